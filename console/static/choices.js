// The customer picker of the new-order form: typing in its search field
// refills the <select> with the matches from a small JSON endpoint, so
// the page never lists every customer. Without script the field's own
// form (GET, a "Find" button) does the same search on the server.
(function () {
  document.querySelectorAll("input[data-choices]").forEach(function (input) {
    var select = document.querySelector('select[name="' + input.dataset.choicesFor + '"]');
    if (!select) return;
    var timer, asked = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var n = ++asked, q = input.value.trim();
        fetch(input.dataset.choices + "?q=" + encodeURIComponent(q), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (body) {
            if (!body || n !== asked) return; // a later search is on its way
            var keep = select.value, first = select.options[0];
            select.replaceChildren(first);
            body.customers.forEach(function (c) {
              var o = document.createElement("option");
              o.value = String(c.id);
              o.textContent = c.name;
              o.selected = o.value === keep;
              select.appendChild(o);
            });
            if (body.customers.length === 1) select.value = String(body.customers[0].id);
            var more = document.getElementById("more-customers");
            if (more) more.hidden = !body.more;
          });
      }, 200);
    });
  });
})();
