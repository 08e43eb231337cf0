// The tariff editor's "What would it cost?" preview: posts the tariff being edited with the preview
// values and shows the answer (a script file, not inline, so the Content-Security-Policy holds).
document.getElementById("preview-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(document.getElementById("tariff-form"));
  for (const [k, v] of new FormData(event.target)) data.set(k, v);
  const response = await fetch(event.target.dataset.previewUrl, {method: "POST", body: data});
  document.getElementById("preview").innerHTML = await response.text();
});
