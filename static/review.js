// Progressive enhancement for per-bird review: drag a box on the photo to
// fill the "Add a bird" corners. Without JavaScript the corners are typed.
(function () {
  var svg = document.getElementById('birds-svg');
  var form = document.getElementById('add-bird');
  if (!svg || !form) return;
  var ns = 'http://www.w3.org/2000/svg';
  var W = +svg.getAttribute('data-w'), H = +svg.getAttribute('data-h');
  var inputs = ['x1', 'y1', 'x2', 'y2'].map(function (k) { return document.getElementById('add-' + k); });
  var rect = null, start = null;
  function point(e) {
    var r = svg.getBoundingClientRect();
    var x = (e.clientX - r.left) / r.width * W, y = (e.clientY - r.top) / r.height * H;
    return [Math.max(0, Math.min(W, x)), Math.max(0, Math.min(H, y))];
  }
  function draw(a, b) {
    var x1 = Math.min(a[0], b[0]), y1 = Math.min(a[1], b[1]);
    var x2 = Math.max(a[0], b[0]), y2 = Math.max(a[1], b[1]);
    rect.setAttribute('x', x1); rect.setAttribute('y', y1);
    rect.setAttribute('width', x2 - x1); rect.setAttribute('height', y2 - y1);
    [x1, y1, x2, y2].forEach(function (v, i) { inputs[i].value = Math.round(v); });
  }
  svg.addEventListener('pointerdown', function (e) {
    start = point(e);
    if (!rect) {
      rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('fill', 'none');
      rect.setAttribute('stroke', '#f0b429');
      rect.setAttribute('stroke-width', Math.max(2, W / 200));
      rect.setAttribute('stroke-dasharray', '10 6');
      svg.appendChild(rect);
    }
    svg.setPointerCapture(e.pointerId);
    draw(start, start);
  });
  svg.addEventListener('pointermove', function (e) { if (start) draw(start, point(e)); });
  svg.addEventListener('pointerup', function (e) {
    if (!start) return;
    draw(start, point(e));
    start = null;
    document.getElementById('add-species').focus();
  });
})();
