/* 青岛质量月问答 — the web chat. Plain JavaScript, no build step, no libraries.
 *
 * Talks to the JSON API of the same origin: POST /api/ask {question, lang, session},
 * POST /api/action {action, lang, session}, and GET /api/messages?session=… for messages sent
 * to this chat later (a seat from the waiting list, a reminder): once on load and every 20 s
 * while the page is visible, only once the chat has a session. Reply text is only ever put
 * into the page with textContent (never innerHTML), and only http(s) links become <a> elements.
 *
 * The conversation is kept in sessionStorage (it survives a reload, not the browser session)
 * and re-drawn from it on load; "清空对话 / Clear chat" forgets it. The server may issue the
 * session as a cookie (same-origin fetch sends it); the page still sends its own id, which such
 * a server ignores. An error from /api/* is {"error", "message", "retry_after"?}: the page
 * shows `message` (in the citizen's language) as a bot bubble, never the code.
 */
(function () {
  "use strict";

  /* The page's texts per language (zh, en), from the server's message catalogue (bot/messages.py,
   * web.page.*), inline in the page (bot.channels.web renders it): examples is a list and
   * topicList the knowledge's topics as [category, name], offered when nothing fits. */
  var STRINGS = readTexts();
  var CODE_LINE = /^((?:预约码|候补编号|Booking code|Waiting-list code)[：:]) *([A-Z0-9]{4,16})[ \t]*$/m;
  var LANG_KEY = "qqm.lang";
  var SESSION_KEY = "qqm.session";
  var HISTORY_KEY = "qqm.history";
  var MAX_HISTORY = 200;  // messages kept for a reload (the oldest go first)
  var TIMEOUT_MS = 15000;
  var POLL_MS = 20000;
  var FEEDBACK = /^fb:(up|down):/;

  var log = document.getElementById("log");
  var form = document.getElementById("ask");
  var input = document.getElementById("question");
  var lang = readLang();
  var session = readSession();  // null until the first question or button
  var pollTimer = null;
  var polling = false;
  var history = readHistory();  // [{who: "user", text} | {who: "bot", reply, notice?, done?}]
  var restoring = false;

  function readTexts() {
    try {
      var texts = JSON.parse(document.getElementById("page-texts").textContent);
      if (texts && texts.zh && texts.en) { return texts; }
    } catch (e) { /* a page not rendered by the server */ }
    var none = {examples: [], topicList: []};
    return {zh: none, en: none};
  }

  // ------------------------------------------------------------------ storage

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: forget it */ }
  }

  function readHistory() {
    try {
      var items = JSON.parse(window.sessionStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(items) ? items.filter(function (item) {
        return item && (item.who === "user" ? typeof item.text === "string" :
          item.who === "bot" && item.reply && typeof item.reply.answer === "string");
      }) : [];
    } catch (e) {
      return [];
    }
  }

  function saveHistory() {
    if (history.length > MAX_HISTORY) { history = history.slice(history.length - MAX_HISTORY); }
    try {
      window.sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
    } catch (e) { /* full or private mode: the chat still works, only a reload forgets it */ }
  }

  function remember(item) {
    if (restoring) { return item; }
    history.push(item);
    saveHistory();
    return item;
  }

  function readLang() {
    var stored = storageGet(LANG_KEY);
    return stored === "en" ? "en" : "zh";  // Chinese first
  }

  function readSession() {
    var id = storageGet(SESSION_KEY);
    return id && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : null;
  }

  function ensureSession() {
    if (!session) {
      session = randomId();
      storageSet(SESSION_KEY, session);
      startPolling();
    }
    return session;
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) { bytes[i] = Math.floor(Math.random() * 256); }
    }
    return "w" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function t(key) { return STRINGS[lang][key]; }

  function htmlLang(code) {
    if (code === "en") { return "en"; }
    if (code === "zh-hant") { return "zh-Hant"; }
    return "zh-CN";
  }

  function safeUrl(raw) {
    if (typeof raw !== "string") { return null; }
    try {
      var url = new URL(raw);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  /* A new reply: to the end if it fits, else its top at the top of the list (a long answer,
   * the session list, the consent notice is read from its beginning). */
  function reveal(row) {
    var top = row.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    if (row.offsetHeight > log.clientHeight - 24) {
      log.scrollTop = Math.max(0, top - 12);
    } else {
      scrollToEnd();
    }
  }

  function focusInput() {
    try { input.focus({preventScroll: true}); } catch (e) { input.focus(); }
  }

  /* One message row. Screen readers hear who speaks from a visually hidden prefix. */
  function addMessage(who) {
    var row = el("div", "msg " + who);
    if (who === "bot") { row.appendChild(el("span", "avatar", "质")).setAttribute("aria-hidden", "true"); }
    var bubble = el("div", "bubble");
    bubble.appendChild(el("span", "visually-hidden", who === "bot" ? t("bot") : t("you")));
    row.appendChild(bubble);
    log.appendChild(row);
    scrollToEnd();
    return bubble;
  }

  function addUser(text) {
    addMessage("user").appendChild(el("p", "text", text));
    remember({who: "user", text: text});
  }

  function choiceButton(label, onClick, extraClass) {
    var button = el("button", "choice" + (extraClass ? " " + extraClass : ""), label);
    button.type = "button";
    button.addEventListener("click", onClick);
    return button;
  }

  // ------------------------------------------------------------------ rendering replies

  /* Draw a reply into its bubble. `item` is its history record ({who: "bot", reply, done?}). */
  function renderReply(bubble, reply, item) {
    var row = bubble.parentNode;
    var words = STRINGS[reply.lang === "en" ? "en" : (reply.lang ? "zh" : lang)];
    if (reply.kind === "signup" && !restoring) { finishSteps(); }  // before this step is kept
    item = item || remember({who: "bot", reply: reply});
    row.lang = htmlLang(reply.lang);
    row.classList.remove("pending");
    row.setAttribute("data-status", String(reply.status || ""));
    if (reply.entry_id) { row.setAttribute("data-entry", String(reply.entry_id)); }
    if (typeof reply.kind === "string" && reply.kind) { row.setAttribute("data-kind", reply.kind); }
    var text = reply.answer || "";
    var code = CODE_LINE.exec(text);
    bubble.appendChild(el("p", "text", code ? text.replace(CODE_LINE, "").replace(/\n{2,}/g, "\n")
      .replace(/^\n|\n$/g, "") : text));
    if (code) { bubble.appendChild(codeBox(code[1], code[2], words)); }

    var links = Array.isArray(reply.links) ? reply.links : [];
    var list = el("ul", "links");
    links.forEach(function (link) {
      var href = link && safeUrl(link.url);
      if (!href) { return; }
      var a = el("a", "link", link.title || href);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.appendChild(el("span", "visually-hidden", words.newTab));
      var item = el("li");
      item.appendChild(a);
      list.appendChild(item);
    });
    if (list.childNodes.length) {
      bubble.appendChild(el("p", "label", words.links));
      bubble.appendChild(list);
    }

    var suggestions = Array.isArray(reply.suggestions) ? reply.suggestions : [];
    var all = Array.isArray(reply.actions) ? reply.actions.filter(function (a) {
      return a && typeof a.id === "string";
    }) : [];
    var actions = all.filter(function (a) { return !FEEDBACK.test(a.id); });
    var feedback = all.filter(function (a) { return FEEDBACK.test(a.id); });
    if (suggestions.length || actions.length) {
      if (reply.status === "answer" && suggestions.length) {
        bubble.appendChild(el("p", "label", words.more));
      }
      var choices = el("div", "choices");
      suggestions.forEach(function (s) {
        if (!s || typeof s.id !== "string" || typeof s.text !== "string") { return; }
        choices.appendChild(choiceButton(s.text, function () {
          press("entry:" + s.id, s.text);
        }, "suggestion"));
      });
      actions.forEach(function (a) {
        var label = typeof a.label === "string" && a.label ? a.label : a.id;
        choices.appendChild(choiceButton(label, function () {
          if (reply.kind === "signup") { markDone(row, item); }
          press(a.id, label);
        }, "action"));
      });
      if (reply.status === "clarify" && reply.kind === "knowledge" && suggestions.length &&
          !all.some(function (a) { return a.id === "none"; })) {
        choices.appendChild(choiceButton(words.none, function () {
          markDone(row, item);
          press("none", words.none);
        }, "action none"));
      }
      if (choices.childNodes.length) { bubble.appendChild(choices); }
    }
    if (reply.status === "fallback" && (reply.kind === "knowledge" || reply.kind === "none")) {
      bubble.appendChild(el("p", "label", words.topics));
      var topics = el("div", "choices topics");
      (words.topicList || []).forEach(function (topic) {
        var label = topic[1];
        topics.appendChild(choiceButton(label, function () {
          press("topic:" + topic[0], label);
        }, "topic"));
      });
      bubble.appendChild(topics);
    }
    if (feedback.length) { bubble.appendChild(feedbackRow(feedback, words, item)); }
    if (item.done) { disableActions(row); }
    if (!restoring) {
      applyExpects(reply.expects);
      reveal(row);
    }
  }

  /* The buttons of a step that is over no longer act (the flow has moved on). */
  function disableActions(row) {
    row.querySelectorAll(".choice.action").forEach(function (b) { b.disabled = true; });
  }

  function markDone(row, item) {
    item.done = true;
    saveHistory();
    disableActions(row);
  }

  function finishSteps() {
    log.querySelectorAll('.msg.bot[data-kind="signup"]').forEach(function (row) {
      disableActions(row);
    });
    history.forEach(function (item) {
      if (item.who === "bot" && item.reply.kind === "signup") { item.done = true; }
    });
    saveHistory();
  }

  /* The sign-up waits for a mobile number: the phone keypad; for a name: name autofill. */
  function applyExpects(expects) {
    var words = STRINGS[lang];
    if (expects === "phone") {
      input.setAttribute("inputmode", "tel");
      input.setAttribute("autocomplete", "tel");
      input.setAttribute("placeholder", words.phonePlaceholder);
    } else {
      input.removeAttribute("inputmode");
      input.setAttribute("autocomplete", expects === "name" ? "name" : "off");
      input.setAttribute("placeholder", expects === "name" ? words.namePlaceholder : words.placeholder);
    }
  }

  /* A booking code, large, with a button that copies it. */
  function codeBox(label, code, words) {
    var box = el("div", "code-box");
    var line = el("p", "code-line");
    line.appendChild(el("span", "code-label", label));
    var value = el("strong", "code", code);
    value.setAttribute("translate", "no");
    line.appendChild(value);
    box.appendChild(line);
    var button = choiceButton(words.copy, function () {
      var done = function () {
        button.textContent = words.copied;
        setTimeout(function () { button.textContent = words.copy; }, 2000);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code).then(done, function () { selectText(value); });
      } else {
        selectText(value);
      }
    }, "copy");
    button.setAttribute("aria-label", words.copy + " " + code);
    box.appendChild(button);
    return box;
  }

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  /* 👍 / 👎 side by side; one vote per answer. */
  function feedbackRow(feedback, words, item) {
    var row = el("div", "feedback");
    row.setAttribute("role", "group");
    row.setAttribute("aria-label", words.feedback);
    row.appendChild(el("span", "feedback-label", words.feedback)).setAttribute("aria-hidden", "true");
    var buttons = [];
    feedback.forEach(function (a) {
      var up = a.id.indexOf("fb:up:") === 0;
      var label = typeof a.label === "string" && a.label ? a.label : (up ? "👍" : "👎");
      var name = up ? words.helpful : words.notHelpful;
      var button = choiceButton(label, function () {
        buttons.forEach(function (b) { b.disabled = true; });
        button.setAttribute("aria-pressed", "true");
        item.voted = a.id;
        saveHistory();
        press(a.id, label);
      }, "vote");
      button.setAttribute("aria-label", name);
      button.title = name;
      button.setAttribute("aria-pressed", String(item.voted === a.id));
      if (item.voted) { button.disabled = true; }
      buttons.push(button);
      row.appendChild(button);
    });
    return row;
  }

  /* A failed call: the server's own words for the citizen when it sent any ({"message"}),
   * else a friendly line; never an error code. */
  function renderError(bubble, status, message, retry) {
    var row = bubble.parentNode;
    row.classList.remove("pending");
    row.classList.add("error");
    row.setAttribute("data-status", "error");
    var text = typeof message === "string" && message.trim() ? message :
      status === 413 ? t("tooLong") : status === 429 ? t("busy") : t("error");
    bubble.appendChild(el("p", "text", text));
    if (status !== 413 && status !== 400) {
      var choices = el("div", "choices");
      choices.appendChild(choiceButton(t("retry"), function () {
        choices.remove();
        retry();
      }, "retry"));
      bubble.appendChild(choices);
    }
    reveal(row);
  }

  function errorOf(response) {
    return response.json().then(function (data) {
      return {status: response.status, said: data && data.message};
    }, function () {
      return {status: response.status};
    }).then(function (problem) { throw problem; });
  }

  // ------------------------------------------------------------------ talking to the API

  function call(path, payload) {
    var bubble = addMessage("bot");
    var row = bubble.parentNode;
    row.classList.add("pending");
    var thinking = el("p", "text thinking", t("thinking"));
    bubble.appendChild(thinking);
    var body = Object.assign({lang: lang, session: ensureSession()}, payload);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;

    function send() {
      fetch(path, {
        method: "POST",
        headers: {"Content-Type": "application/json", "Accept": "application/json"},
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) { return errorOf(response); }
        return response.json();
      }).then(function (reply) {
        if (!reply || typeof reply !== "object" || typeof reply.answer !== "string") {
          throw {status: 0};
        }
        thinking.remove();
        renderReply(bubble, reply);
      }).catch(function (problem) {
        thinking.remove();
        renderError(bubble, problem && problem.status, problem && problem.said, function () {
          bubble.querySelectorAll(".text").forEach(function (node) { node.remove(); });
          row.classList.remove("error");
          row.classList.add("pending");
          row.setAttribute("data-status", "pending");
          bubble.appendChild(thinking);
          controller = window.AbortController ? new AbortController() : null;
          timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
          send();
        });
      }).then(function () {
        if (timer) { clearTimeout(timer); }
      });
    }
    send();
  }

  function ask(question) {
    var text = question.trim();
    if (!text) { return; }
    addUser(text);
    call("/api/ask", {question: text});
  }

  function press(action, label) {
    addUser(label);
    call("/api/action", {action: action});
    focusInput();  // the pressed button may now be disabled: keep the keyboard somewhere useful
  }

  // ------------------------------------------------------------------ messages sent later

  function poll() {
    if (!session || polling || document.hidden) { return; }
    polling = true;
    fetch("/api/messages?session=" + encodeURIComponent(session), {
      headers: {"Accept": "application/json"},
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      var messages = data && Array.isArray(data.messages) ? data.messages : [];
      messages.forEach(function (reply) {
        if (!reply || typeof reply !== "object" || typeof reply.answer !== "string") { return; }
        var bubble = addMessage("bot");
        bubble.parentNode.classList.add("notice");
        renderReply(bubble, reply, remember({who: "bot", reply: reply, notice: true}));
      });
    }).catch(function () {
      /* offline for a moment: the next round asks again */
    }).then(function () {
      polling = false;
    });
  }

  function startPolling() {
    if (pollTimer || !session) { return; }
    pollTimer = setInterval(poll, POLL_MS);
  }

  // ------------------------------------------------------------------ language and welcome

  function applyLang() {
    var words = STRINGS[lang];
    document.documentElement.lang = htmlLang(lang);
    document.title = words.title;
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = words[node.getAttribute("data-i18n")];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.setAttribute("placeholder", words[node.getAttribute("data-i18n-placeholder")]);
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (node) {
      node.setAttribute("aria-label", words[node.getAttribute("data-i18n-label")]);
    });
    log.setAttribute("aria-label", words.log);
    document.querySelectorAll(".lang-btn").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === lang));
    });
  }

  function welcome() {
    var bubble = addMessage("bot");
    bubble.parentNode.classList.add("welcome");
    bubble.parentNode.lang = htmlLang(lang);
    bubble.parentNode.setAttribute("data-status", "welcome");
    bubble.appendChild(el("p", "text", t("welcome")));
    var choices = el("div", "choices");
    t("examples").forEach(function (question) {
      choices.appendChild(choiceButton(question, function () { ask(question); }, "example"));
    });
    bubble.appendChild(choices);
  }

  /* Draw the kept conversation again after a reload. */
  function restore() {
    restoring = true;
    try {
      history.forEach(function (item) {
        if (item.who === "user") {
          addMessage("user").appendChild(el("p", "text", item.text));
          return;
        }
        var bubble = addMessage("bot");
        if (item.notice) { bubble.parentNode.classList.add("notice"); }
        renderReply(bubble, item.reply, item);
      });
    } finally {
      restoring = false;
    }
    var last = history.length ? history[history.length - 1] : null;
    applyExpects(last && last.who === "bot" ? last.reply.expects : null);
    scrollToEnd();
  }

  function clearChat() {
    history = [];
    try { window.sessionStorage.removeItem(HISTORY_KEY); } catch (e) { /* nothing kept */ }
    log.querySelectorAll(".msg").forEach(function (row) { row.remove(); });
    applyExpects(null);
    welcome();
    focusInput();
  }

  function setLang(next) {
    if (next === lang || !STRINGS[next]) { return; }
    lang = next;
    storageSet(LANG_KEY, lang);
    applyLang();
    var last = history.length ? history[history.length - 1] : null;
    applyExpects(last && last.who === "bot" ? last.reply.expects : null);  // its placeholder
    // Before the first question, greet again in the new language.
    var rows = log.querySelectorAll(".msg");
    if (rows.length === 1 && rows[0].classList.contains("welcome")) {
      rows[0].remove();
      welcome();
    }
  }

  // ------------------------------------------------------------------ start

  document.querySelectorAll(".lang-btn").forEach(function (button) {
    button.addEventListener("click", function () { setLang(button.getAttribute("data-lang")); });
  });
  document.getElementById("clear").addEventListener("click", clearChat);
  document.querySelectorAll(".tool[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      press(button.getAttribute("data-action"), button.textContent);
    });
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { poll(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { input.focus(); return; }
    input.value = "";
    ask(text);
  });
  applyLang();
  welcome();
  restore();
  if (session) {  // someone who has talked to us before: anything waiting for them?
    poll();
    startPolling();
  }
  document.documentElement.classList.add("ready");
})();
