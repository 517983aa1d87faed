// The text of each <svg> inside a rendered `div.mermaid`. mkdocs-material draws each diagram in
// a closed shadow root; open_shadow_roots.js opens it, so a page script reads it at once (the
// DevTools protocol's pierced DOM sees it too, at ~0.2 s a look on a long page).
() => [...document.querySelectorAll("div.mermaid")]
  .map((holder) => holder.shadowRoot && holder.shadowRoot.querySelector("svg"))
  .filter((svg) => svg)
  .map((svg) => svg.textContent)
