// Run before the page's own scripts: every shadow root is attached open, so the page scripts
// beside this one can read mkdocs-material's diagrams (drawn in closed shadow roots); rendering
// is unchanged.
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (options) {
  return attachShadow.call(this, { ...options, mode: "open" });
};
