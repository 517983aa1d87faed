// The header's language switcher (extra.alternate in mkdocs.yml and mkdocs.zh.yml) links each
// edition's home page. Both editions have the same pages at the same paths, with the same
// heading anchors (tests/test_docs.py checks both), so a reader who switches stays on the page
// and the heading they were reading. This runs before mkdocs-material's own handler (capture),
// which looks the page up in the other edition's sitemap.xml: without a site_url that sitemap
// lists nothing, and the reader would land on the home page.
document.addEventListener(
  "click",
  (event) => {
    const link =
      event.target instanceof Element && event.target.closest("a.md-select__link[hreflang]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) {
      return;
    }
    const config = JSON.parse(document.getElementById("__config").textContent);
    const root = new URL(config.base.replace(/\/?$/, "/"), location.href).href;
    if (!location.href.startsWith(root)) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    location.href = new URL(location.href.slice(root.length), link.href).href;
  },
  true,
);
