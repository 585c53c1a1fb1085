// Progressive enhancement for the upload form: drag-and-drop and a file
// list. Without JavaScript the plain file input and submit still work.
(function () {
  var form = document.getElementById('upload-form');
  var input = document.getElementById('file');
  var drop = document.getElementById('drop');
  var selected = document.getElementById('selected');
  if (!form || !input || !drop) return;
  function show() {
    var names = [];
    for (var i = 0; i < input.files.length; i++) names.push(input.files[i].name);
    selected.textContent = names.length ? 'Selected: ' + names.join(', ') : '';
  }
  input.addEventListener('change', show);
  ['dragenter', 'dragover'].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  ['dragleave', 'drop'].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove('over'); });
  });
  drop.addEventListener('drop', function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
  });
  form.addEventListener('submit', function () {
    form.querySelector('button').disabled = true;
    form.querySelector('button').textContent = 'Uploading…';
  });
})();
