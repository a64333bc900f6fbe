// A Gradio js_on_load body: `element` is the component's root, `trigger` sends an event to Python.
// Event delegation on the answer: "Open" buttons send the citation's offsets; a timeline bar (or "show all
// dates") sends its days, and Python asks again with them as the date filter.
element.addEventListener('click', (ev) => {
  const bar = ev.target.closest('button.qa-bar, button.qa-bar-clear');
  if (bar && element.contains(bar)) {
    trigger('click', {since: bar.dataset.since, until: bar.dataset.until});
    return;
  }
  const b = ev.target.closest('button.qa-open');
  if (!b || !element.contains(b)) return;
  trigger('click', {article_id: b.dataset.article, start: Number(b.dataset.start), end: Number(b.dataset.end),
                    hs: Number(b.dataset.hs), he: Number(b.dataset.he), hash: b.dataset.hash});
});
