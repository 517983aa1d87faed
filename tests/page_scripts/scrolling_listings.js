// Every listing that scrolls sideways: the scrolling box is `pre > code` (overflow: auto).
() => [...document.querySelectorAll("pre, pre > code")]
  .filter((element) => element.offsetParent !== null)
  .filter((element) => element.scrollWidth > element.clientWidth)
  .map((element) => element.textContent.split("\n")[0].slice(0, 60))
