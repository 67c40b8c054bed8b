// confirm.js asks before submitting a form that carries data-confirm (delete,
// revoke, disable). The server still requires its own confirmation where it
// matters (the dataset delete checkbox).
document.addEventListener('submit', (event) => {
  const form = event.target;
  const msg = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (msg && !window.confirm(msg)) event.preventDefault();
});
