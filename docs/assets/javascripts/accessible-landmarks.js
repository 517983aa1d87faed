// Names and landmarks for a screen reader, where mkdocs-material's markup leaves them out
// (axe-core's aria-dialog-name and landmark-unique; tests/test_docs_browser.py runs axe).
(function () {
  "use strict";

  // The search dialog (div.md-search, role="dialog") has no name: give it the one its own
  // search box has, which material translates ("Search", "搜索").
  function nameTheSearchDialog() {
    const dialog = document.querySelector(".md-search[role=dialog]");
    const input = document.querySelector(".md-search__input");
    if (dialog && input && !dialog.hasAttribute("aria-label")) {
      const name = input.getAttribute("aria-label") || input.getAttribute("placeholder");
      if (name) {
        dialog.setAttribute("aria-label", name);
      }
    }
  }

  // Every listing gets a <nav class="md-code__nav"> around its copy button: dozens of unnamed
  // navigation landmarks that a reader listing the page's landmarks would have to wade through.
  // The button is no navigation; keep it (it has its title) and drop the landmark.
  function dropCodeButtonLandmarks() {
    for (const nav of document.querySelectorAll("nav.md-code__nav:not([role])")) {
      nav.setAttribute("role", "none");
    }
  }

  function fix() {
    nameTheSearchDialog();
    dropCodeButtonLandmarks();
  }

  // material builds the copy buttons when the page's components mount, in its own subscriber
  // to document$, made before this script ran, so by the time this one runs they exist.
  // document$ emits once per page (no instant navigation here).
  if (typeof document$ !== "undefined") {
    document$.subscribe(fix);
  } else {
    document.addEventListener("DOMContentLoaded", fix);
  }
})();
