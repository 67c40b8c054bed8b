// upload.js sends the upload form with XMLHttpRequest so that a progress bar
// can follow the bytes sent (fetch has no upload progress). Without this
// script the form posts normally.
//
// Contract with the server (POST form.action, i.e. /datasets/upload, with
// "Accept: application/json"):
//   success 2xx: {"id": 12, "url": "/datasets/12"}  (or {"ids": [...], "url": "/datasets"})
//   rejection 4xx: {"error": "message", "problems": [{"file": "a.hea", "line": 3, "message": "..."}]}
// Any other answer is shown as its status text.

const form = document.getElementById('upload-form');
if (form) {
  const area = form.querySelector('.upload-progress');
  const bar = document.getElementById('upload-progress');
  const text = document.getElementById('upload-progress-text');
  const problems = document.getElementById('upload-problems');
  const submit = form.querySelector('[data-testid="upload-submit"]');

  const showProblems = (items) => {
    const list = problems.querySelector('ul');
    list.replaceChildren();
    for (const p of items) {
      const li = document.createElement('li');
      li.dataset.testid = 'problem';
      let where = '';
      if (p.file) where = p.file + (p.line ? `, line ${p.line}` : '') + ': ';
      li.textContent = where + (p.message || String(p));
      list.append(li);
    }
    problems.hidden = items.length === 0;
  };

  const formatBytes = (n) => {
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    showProblems([]);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'text';
    area.hidden = false;
    bar.value = 0;
    bar.max = 100;
    submit.disabled = true;

    xhr.upload.addEventListener('progress', (e) => {
      if (!e.lengthComputable) { text.textContent = `${formatBytes(e.loaded)} sent`; return; }
      const pct = Math.floor((e.loaded / e.total) * 100);
      bar.value = pct;
      bar.textContent = `${pct} %`;
      text.textContent = `${pct} % (${formatBytes(e.loaded)} of ${formatBytes(e.total)})`;
    });
    xhr.upload.addEventListener('load', () => {
      // All bytes sent: the server now parses and validates.
      bar.removeAttribute('value');
      text.textContent = 'Checking the recordings…';
    });
    xhr.addEventListener('load', () => {
      submit.disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) {
        bar.value = 100;
        text.textContent = 'Stored.';
        const url = (body && (body.url || (body.id != null && `/datasets/${body.id}`))) || '/datasets';
        window.location.assign(url);
        return;
      }
      area.hidden = true;
      if (body && Array.isArray(body.problems) && body.problems.length) {
        showProblems(body.problems);
      } else {
        showProblems([{ message: (body && (body.error || body.message)) || `The server answered ${xhr.status} ${xhr.statusText}.` }]);
      }
    });
    xhr.addEventListener('error', () => {
      submit.disabled = false;
      area.hidden = true;
      showProblems([{ message: 'The connection failed before the upload finished. Check the network and try again.' }]);
    });
    xhr.send(new FormData(form));
  });
}
