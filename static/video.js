// Progressive enhancement for a video's results: a visit's thumbnail seeks
// the player there instead of opening the clip. Without JavaScript the
// link opens the clip at that time.
(function () {
  var player = document.getElementById('player');
  if (!player) return;
  document.querySelectorAll('a.seek').forEach(function (a) {
    a.addEventListener('click', function (e) {
      e.preventDefault();
      player.currentTime = +a.getAttribute('data-t');
      player.play();
      player.scrollIntoView({ behavior: 'smooth', block: 'center' });
    });
  });
})();
