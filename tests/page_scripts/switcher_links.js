// Where each entry of the header's language switcher leads, by language.
() => [...document.querySelectorAll("a.md-select__link[hreflang]")]
  .map((link) => [link.hreflang, link.href])
