// The preview studio's behaviour: tabs, widths, live reload, spam score, test send.
// Served as a file so the pages' CSP can forbid inline script (script-src 'self').
"use strict";

(function () {
  const body = document.body;
  const sampleForm = document.getElementById("sample");
  const live = document.getElementById("live");

  function setHidden(name, value) {
    if (!sampleForm) return;
    const input = sampleForm.elements.namedItem(name);
    if (input) input.value = value;
  }

  function sampleData() {
    const data = new URLSearchParams();
    if (!sampleForm) return data;
    for (const [key, value] of new FormData(sampleForm)) {
      if (key !== "tab" && key !== "view") data.append(key, value);
    }
    // The language is the switch's, not a field of the form.
    if (body.dataset.locale) data.append("locale", body.dataset.locale);
    return data;
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  // Tabs ---------------------------------------------------------------
  const tabs = Array.from(document.querySelectorAll("[role=tab]"));
  let spamLoaded = false;

  function selectTab(name) {
    for (const tab of tabs) {
      const selected = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      document.getElementById("panel-" + tab.dataset.tab).hidden = !selected;
    }
    setHidden("tab", name);
    if (name === "spam" && !spamLoaded) runSpamCheck();
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      next.focus();
      selectTab(next.dataset.tab);
    });
  }

  // Desktop / mobile width ---------------------------------------------
  const frame = document.getElementById("frame");
  for (const button of document.querySelectorAll("button[data-view]")) {
    button.addEventListener("click", () => {
      const view = button.dataset.view;
      frame.dataset.view = view;
      for (const other of document.querySelectorAll("button[data-view]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      setHidden("view", view);
    });
  }

  // Spam score ---------------------------------------------------------
  const spamResult = document.getElementById("spam-result");

  async function runSpamCheck() {
    if (!spamResult) return;
    spamLoaded = true;
    spamResult.replaceChildren(element("p", "Running SpamAssassin…", "muted"));
    let answer;
    try {
      const response = await fetch(spamResult.dataset.url, { method: "POST", body: sampleData() });
      answer = await response.json();
    } catch (error) {
      answer = { available: true, message: "The spam check failed: " + error };
    }
    const nodes = [];
    if (answer.score === undefined) {
      nodes.push(element("p", answer.message, answer.available ? "result bad" : "muted"));
      if (!answer.available) nodes[0].dataset.unavailable = "true";
    } else {
      const good = answer.score <= 1.0;
      nodes.push(element("p", answer.score.toFixed(1).replace("-0.0", "0.0") + " points", "score " + (good ? "ok" : "bad")));
      nodes.push(
        element(
          "p",
          "SpamAssassin flags mail at " + answer.required.toFixed(1) +
            " points; keep templates at 1.0 or below.",
          "muted",
        ),
      );
      const table = element("table", undefined, "rules");
      const head = table.createTHead().insertRow();
      for (const title of ["Points", "Rule", "Description"]) head.append(element("th", title));
      const rows = table.createTBody();
      for (const rule of answer.rules) {
        const row = rows.insertRow();
        row.append(element("td", rule.score.toFixed(1).replace("-0.0", "0.0"), "points"));
        row.append(element("td", rule.name));
        row.append(element("td", rule.description));
      }
      nodes.push(table);
    }
    spamResult.replaceChildren(...nodes);
  }

  if (tabs.length && document.querySelector("[role=tab][aria-selected=true]")?.dataset.tab === "spam") {
    runSpamCheck();
  }

  // Send a test --------------------------------------------------------
  const sendForm = document.getElementById("send");
  if (sendForm) {
    const result = document.getElementById("send-result");
    const button = sendForm.querySelector("button");
    sendForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = sampleData();
      data.append("to", sendForm.elements.namedItem("to").value);
      button.disabled = true;
      result.className = "result";
      result.textContent = "Sending…";
      try {
        const response = await fetch(sendForm.action, { method: "POST", body: data });
        const answer = await response.json();
        if (answer.success) {
          result.className = "result ok";
          result.textContent = "Sent to " + answer.to + " by " + answer.provider + " (" + answer.message_id + ").";
        } else {
          result.className = "result bad";
          result.textContent = answer.message;
        }
      } catch (error) {
        result.className = "result bad";
        result.textContent = "The test could not be sent: " + error;
      } finally {
        button.disabled = false;
      }
    });
  }

  // Live reload --------------------------------------------------------
  // The server answers the template files' fingerprint; when it changes, the
  // page is rendered again with the same sample data, tab and width.
  const fingerprint = body.dataset.fingerprint;
  let reloading = false;

  function reload() {
    reloading = true;
    if (!sampleForm) {
      window.location.reload();
    } else if (body.dataset.method === "POST") {
      sampleForm.submit();
    } else {
      const url = new URL(window.location.href);
      for (const name of ["tab", "view"]) url.searchParams.set(name, sampleForm.elements.namedItem(name).value);
      window.location.replace(url);
    }
  }

  async function poll() {
    if (reloading) return;
    try {
      const response = await fetch(body.dataset.fingerprintUrl, { cache: "no-store" });
      const answer = await response.json();
      live.className = "live on";
      if (answer.fingerprint !== fingerprint) {
        reload();
        return;
      }
    } catch (error) {
      live.className = "live off";
    }
    window.setTimeout(poll, 1000);
  }

  window.setTimeout(poll, 1000);
})();
