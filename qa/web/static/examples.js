// A Gradio js_on_load body: `element` is the component's root, `trigger` sends an event to Python.
// An example question chip sends its question to Python, which fills the box and asks it.
element.addEventListener('click', (ev) => {
  const b = ev.target.closest('button.qa-example');
  if (b && element.contains(b)) trigger('click', {question: b.dataset.q});
});
