// Every copy button whose box reaches into the code's text area (the code box less its right
// padding): a button there sits over the end of a line.
() => [...document.querySelectorAll(".md-code__button")]
  .filter((button) => button.offsetParent !== null)
  .filter((button) => {
    const code = button.closest("pre").querySelector("code");
    const padding = parseFloat(getComputedStyle(code).paddingRight);
    const text = code.getBoundingClientRect().right - padding;
    return button.getBoundingClientRect().left < text;
  })
  .map((button) => button.closest("pre").textContent.trim().slice(0, 60))
