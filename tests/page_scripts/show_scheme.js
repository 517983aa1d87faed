// What material's header toggle does to show a colour scheme: the palette entry's colour
// attributes on the body (the toggle also stores the choice; this does not). False if no entry.
(scheme) => {
  const entry = document.querySelector(`input[name=__palette][data-md-color-scheme="${scheme}"]`);
  if (!entry) {
    return false;
  }
  for (const name of ["scheme", "primary", "accent"]) {
    const value = entry.getAttribute(`data-md-color-${name}`);
    if (value) {
      document.body.setAttribute(`data-md-color-${name}`, value);
    }
  }
  return document.body.dataset.mdColorScheme === scheme;
}
