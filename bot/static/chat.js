/* 青岛质量月问答 — the web chat. Plain JavaScript, no build step, no libraries.
 *
 * Talks to the JSON API of the same origin: POST /api/ask {question, lang, session},
 * POST /api/action {action, lang, session}, and GET /api/messages?session=… for messages sent
 * to this chat later (a seat from the waiting list, a reminder): once on load and every 20 s
 * while the page is visible, only once the chat has a session. Reply text is only ever put
 * into the page with textContent (never innerHTML), and only http(s) links become <a> elements.
 */
(function () {
  "use strict";

  var STRINGS = {
    zh: {
      htmlLang: "zh-CN",
      title: "青岛质量月问答",
      subtitle: "2022年“质量月”活动智能问答",
      skip: "跳到提问框",
      label: "您的问题",
      placeholder: "请输入您的问题",
      send: "发送",
      log: "对话记录",
      you: "您说：",
      bot: "问答助手说：",
      welcome: "您好！我是青岛“质量月”问答助手。我可以回答2022年青岛质量月的主题活动、十项重点工作、" +
        "NQI一站式服务、品博会、质量奖和品牌成绩等问题。请直接输入问题，或点一个例子：",
      examples: ["品博会什么时候举办？", "中国品牌日是哪天？", "NQI一站式服务平台是什么？",
                 "青岛有几个中国质量奖？"],
      links: "相关链接：",
      more: "您还可以问：",
      thinking: "正在查找答案…",
      error: "抱歉，暂时没能取得答案。请检查网络后再试一次。",
      tooLong: "问题太长了，请用一两句话提问。",
      retry: "重试",
      newTab: "（在新窗口打开）",
      tools: "开放日报名与我的信息",
      openDay: "报名开放日",
      myBookings: "我的预约",
      forget: "删除我的信息",
      feedback: "这个回答有帮助吗？",
      helpful: "有帮助",
      notHelpful: "没有帮助"
    },
    en: {
      htmlLang: "en",
      title: "Qingdao Quality Month Q&A",
      subtitle: "Qingdao 2022 Quality Month",
      skip: "Skip to the question box",
      label: "Your question",
      placeholder: "Type your question",
      send: "Send",
      log: "Conversation",
      you: "You said:",
      bot: "The assistant said:",
      welcome: "Hello! I answer questions about Qingdao's 2022 Quality Month: the ceremony, the " +
        "ten key tasks, NQI one-stop services, the Quality Life Expo, quality awards and brand " +
        "figures. Type a question, or pick an example:",
      examples: ["When is the Quality Life Expo?", "When is China Brand Day?",
                 "What does NQI stand for?", "How many China Quality Awards does Qingdao have?"],
      links: "Links:",
      more: "You may also ask:",
      thinking: "Looking for the answer…",
      error: "Sorry, the answer could not be fetched. Please check your connection and try again.",
      tooLong: "That question is too long; please ask in a sentence or two.",
      retry: "Try again",
      newTab: " (opens in a new tab)",
      tools: "Open day and my data",
      openDay: "Open day",
      myBookings: "My bookings",
      forget: "Delete my data",
      feedback: "Was this helpful?",
      helpful: "Helpful",
      notHelpful: "Not helpful"
    }
  };
  var LANG_KEY = "qqm.lang";
  var SESSION_KEY = "qqm.session";
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

  // ------------------------------------------------------------------ storage

  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: forget it */ }
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
  }

  function choiceButton(label, onClick, extraClass) {
    var button = el("button", "choice" + (extraClass ? " " + extraClass : ""), label);
    button.type = "button";
    button.addEventListener("click", onClick);
    return button;
  }

  // ------------------------------------------------------------------ rendering replies

  function renderReply(bubble, reply) {
    var row = bubble.parentNode;
    var words = STRINGS[reply.lang === "en" ? "en" : (reply.lang ? "zh" : lang)];
    row.lang = htmlLang(reply.lang);
    row.classList.remove("pending");
    row.setAttribute("data-status", String(reply.status || ""));
    if (reply.entry_id) { row.setAttribute("data-entry", String(reply.entry_id)); }
    if (typeof reply.kind === "string" && reply.kind) { row.setAttribute("data-kind", reply.kind); }
    bubble.appendChild(el("p", "text", reply.answer || ""));

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
        choices.appendChild(choiceButton(label, function () { press(a.id, label); }, "action"));
      });
      if (choices.childNodes.length) { bubble.appendChild(choices); }
    }
    if (feedback.length) { bubble.appendChild(feedbackRow(feedback, words)); }
    scrollToEnd();
  }

  /* 👍 / 👎 side by side; one vote per answer. */
  function feedbackRow(feedback, words) {
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
        press(a.id, label);
      }, "vote");
      button.setAttribute("aria-label", name);
      button.title = name;
      button.setAttribute("aria-pressed", "false");
      buttons.push(button);
      row.appendChild(button);
    });
    return row;
  }

  function renderError(bubble, status, retry) {
    var row = bubble.parentNode;
    row.classList.remove("pending");
    row.classList.add("error");
    row.setAttribute("data-status", "error");
    bubble.appendChild(el("p", "text", status === 413 ? t("tooLong") : t("error")));
    if (status !== 413 && status !== 400) {
      var choices = el("div", "choices");
      choices.appendChild(choiceButton(t("retry"), function () {
        choices.remove();
        retry();
      }, "retry"));
      bubble.appendChild(choices);
    }
    scrollToEnd();
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
        if (!response.ok) { throw {status: response.status}; }
        return response.json();
      }).then(function (reply) {
        if (!reply || typeof reply !== "object" || typeof reply.answer !== "string") {
          throw {status: 0};
        }
        thinking.remove();
        renderReply(bubble, reply);
      }).catch(function (problem) {
        thinking.remove();
        renderError(bubble, problem && problem.status, function () {
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
        renderReply(bubble, reply);
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
    document.documentElement.lang = words.htmlLang;
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
    bubble.parentNode.lang = STRINGS[lang].htmlLang;
    bubble.parentNode.setAttribute("data-status", "welcome");
    bubble.appendChild(el("p", "text", t("welcome")));
    var choices = el("div", "choices");
    t("examples").forEach(function (question) {
      choices.appendChild(choiceButton(question, function () { ask(question); }, "example"));
    });
    bubble.appendChild(choices);
  }

  function setLang(next) {
    if (next === lang || !STRINGS[next]) { return; }
    lang = next;
    storageSet(LANG_KEY, lang);
    applyLang();
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
  if (session) {  // someone who has talked to us before: anything waiting for them?
    poll();
    startPolling();
  }
  document.documentElement.classList.add("ready");
})();
