// Shows which release this page comes from, read from the origin's release beacon.
fetch('/.well-known/outlast/release.json', { cache: 'no-store' })
  .then((response) => response.json())
  .then((beacon) => {
    document.getElementById('served-by').textContent =
      `Release ${beacon.release}, live since ${beacon.deployedAt}.`;
  })
  .catch(() => {
    document.getElementById('served-by').textContent = '';
  });
