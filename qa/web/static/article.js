// A Gradio js_on_load body: `element` is the component's root, `props.value` its HTML, `watch` runs on a change.
// __ARTICLE_PLACEHOLDER__ stands for the empty panel's HTML; the page puts it in as a JSON string.
// After the new article is laid out (on a phone it becomes a full-screen overlay), bring the passage into view.
const focus = () => setTimeout(() => requestAnimationFrame(() => {
  const m = element.querySelector('#qa-focus');
  if (m) m.scrollIntoView({block: 'center', behavior: 'instant'});
}), 30);
watch('value', focus);
element.addEventListener('click', (ev) => {
  if (ev.target.closest('button.qa-close')) props.value = __ARTICLE_PLACEHOLDER__;
});
