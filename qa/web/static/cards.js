// A Gradio js_on_load body: `element` is the component's root, `trigger` sends an event to Python.
// Event delegation on the cards: only "Open article" buttons reach Python, with the citation's offsets.
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button.qa-open');
  if (!b || !element.contains(b)) return;
  trigger('click', {article_id: b.dataset.article, start: Number(b.dataset.start), end: Number(b.dataset.end),
                    hs: Number(b.dataset.hs), he: Number(b.dataset.he), hash: b.dataset.hash});
});
