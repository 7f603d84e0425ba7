// The hosted form page with JavaScript on: post JSON, show each 422 message next to its field,
// move focus to the first error, show the success message in place. Served as a file so the
// page's CSP can forbid inline script. Every word shown comes from the page or the server.
"use strict";

(function () {
  const form = document.getElementById("hosted-form");
  if (!form || !window.fetch) return; // the plain post still works
  const status = document.getElementById("form-status");
  const success = document.getElementById("form-success");
  const button = form.querySelector("button[type=submit]");

  function fieldOf(name) {
    const element = form.elements.namedItem(name);
    return element instanceof Element ? element : null;
  }

  function clearErrors() {
    for (const error of form.querySelectorAll(".error")) {
      error.textContent = "";
      error.hidden = true;
    }
    for (const field of form.querySelectorAll(".invalid")) field.classList.remove("invalid");
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    status.hidden = true;
    status.className = "status";
    status.replaceChildren();
  }

  function showStatus(text, className) {
    const paragraph = document.createElement("p");
    paragraph.textContent = text;
    status.replaceChildren(paragraph);
    status.className = className;
    status.hidden = false;
  }

  function showErrors(errors) {
    let first = null;
    const unplaced = [];
    for (const error of errors) {
      const input = fieldOf(error.field);
      const message = document.getElementById("f-" + error.field + "-error");
      if (!input || !message) {
        unplaced.push(error.message);
        continue;
      }
      message.textContent = error.message;
      message.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.closest(".field").classList.add("invalid");
      first = first || input;
    }
    return { first: first, unplaced: unplaced };
  }

  // A captcha token is good for one check: after a refused post the widget needs a new one.
  function resetCaptcha() {
    for (const name of ["turnstile", "hcaptcha", "grecaptcha"]) {
      const widget = window[name];
      if (widget && typeof widget.reset === "function") widget.reset();
    }
  }

  function data() {
    const body = {};
    for (const element of form.elements) {
      if (!element.name) continue;
      body[element.name] = element.type === "checkbox" ? element.checked : element.value;
    }
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    showStatus(form.dataset.sending, "status info");
    status.setAttribute("role", "status");
    let response;
    let answer;
    try {
      response = await fetch(form.dataset.endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(data()),
      });
      answer = await response.json();
    } catch (error) {
      resetCaptcha();
      status.setAttribute("role", "alert");
      showStatus(form.dataset.failed, "status");
      button.disabled = false;
      status.focus();
      return;
    }
    button.disabled = false;
    status.setAttribute("role", "alert");
    if (response.ok && answer.success) {
      clearErrors();
      form.hidden = true;
      success.hidden = false;
      success.focus();
      return;
    }
    resetCaptcha();
    const placed = showErrors(answer.errors || []);
    showStatus([answer.message, ...placed.unplaced].filter(Boolean).join(" "), "status");
    (placed.first || status).focus();
  });
})();
