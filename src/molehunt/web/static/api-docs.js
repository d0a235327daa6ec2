// Starts the vendored Swagger UI on /api/v1/docs. A file, not an inline script: the console's
// Content-Security-Policy allows scripts from this origin only.
"use strict";
(function () {
  var target = document.getElementById("swagger-ui");
  if (!target || typeof SwaggerUIBundle === "undefined") { return; }
  window.ui = SwaggerUIBundle({
    url: target.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // "Try it out" sends the console's session cookie: reads work when signed in
    withCredentials: true
  });
})();
