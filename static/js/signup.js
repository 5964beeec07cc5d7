// Signup (templates/tenants/signup.html): the slug follows the organization's name as it is
// typed, the way the server derives one when it is left blank (tenants.services._slug_base),
// until the person edits the slug themself. The server still checks it is valid and free.
(function () {
  const name = document.querySelector("#signup-form [name=organization_name]");
  const slug = document.querySelector("#signup-form [name=slug]");
  const preview = document.getElementById("slug-preview");
  if (!name || !slug) return;

  function slugFrom(text) {
    let base = text.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    if (!/^[a-z]/.test(base)) base = `org-${base}`.replace(/-+$/, "");
    base = base.slice(0, 36).replace(/-+$/, "");
    return base.length >= 3 ? base : `${base}-org`;
  }

  function showPreview() {
    if (preview) preview.textContent = slug.value || "<slug>";
  }

  // A slug the server sent back (a refused signup) or typed by hand is the person's choice.
  let edited = slug.value !== "" && slug.value !== slugFrom(name.value);
  slug.addEventListener("input", () => {
    edited = slug.value !== "";
    showPreview();
  });
  name.addEventListener("input", () => {
    if (!edited) slug.value = name.value.trim() ? slugFrom(name.value) : "";
    showPreview();
  });
  // A refused signup whose slug was left blank comes back with the name only: fill it again.
  if (!edited && !slug.value && name.value.trim()) slug.value = slugFrom(name.value);
  showPreview();
})();
