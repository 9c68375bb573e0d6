// Keyboard for the rubric form: an expert scoring forty works in an evening keeps both hands on the keys.
document.addEventListener("keydown", function (event) {
  var form = document.getElementById("score-form");
  if (!form || !(event.ctrlKey || event.metaKey)) return;
  var action = event.key === "Enter" ? "submit" : (event.key === "s" || event.key === "S") ? "draft" : null;
  if (!action) return;
  event.preventDefault();
  var button = form.querySelector("button[value=" + action + "]");
  if (button) button.click();
});

// Drafts as the expert types: saved on the server about a second after the last keystroke (and when a field is
// left or the tab hidden), and kept in this browser too. A session that ended meanwhile (401) loses nothing: the
// copy stays here until the expert has signed in again and it is saved on the server.
(function () {
  var form = document.getElementById("score-form");
  if (!form || form.dataset.open !== "yes") return;
  var status = document.getElementById("draft-status");
  var key = "review-draft:" + form.dataset.assignment;
  // the server's save this page started from: a copy kept here is newer than the server's only while it is the same
  var base = form.dataset.savedAt || "";
  var submitted = form.dataset.state === "submitted";  // the server keeps no draft of a submitted score
  var timer = null, busy = false, again = false, lastSent = null, leaving = false;

  function say(text, kind) {
    if (!status) return;
    status.textContent = "";
    status.className = "draft-status" + (kind ? " " + kind : "");
    status.appendChild(document.createTextNode(text));
  }

  function fields() {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && (el.name.indexOf("mark_") === 0 || el.name === "comment" || el.name === "comment_for_org")) {
        out[el.name] = el.value;
      }
    });
    return out;
  }

  function keepHere() {
    try {
      localStorage.setItem(key, JSON.stringify({fields: fields(), base: base, at: Date.now()}));
    } catch (e) { /* private mode or full: the server draft still saves */ }
  }

  function kept() {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  function forget() {
    try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
  }

  function expired(signIn) {
    say("", "expired");
    status.appendChild(document.createTextNode("登录已过期，您的打分已保存在本机浏览器中，请"));
    var link = document.createElement("a");
    link.href = signIn || form.dataset.signIn;
    link.id = "draft-sign-in";
    link.textContent = "重新登录";
    status.appendChild(link);
    status.appendChild(document.createTextNode("后回到本页继续。"));
  }

  function save() {
    timer = null;
    if (submitted) {  // a change to a submitted score takes the button: kept here until then
      say("评分已提交，修改不会自动保存：改好后请点「修改评分」。", "kept");
      return;
    }
    var now = fields();
    var text = JSON.stringify(now);
    if (text === lastSent) return;
    if (busy) { again = true; return; }
    busy = true;
    var body = new URLSearchParams(now);
    var token = form.querySelector("input[name=csrf_token]");
    fetch(form.dataset.draftUrl, {
      method: "POST", credentials: "same-origin", body: body, keepalive: leaving,
      headers: {"X-CSRF-Token": token ? token.value : "", "Accept": "application/json"}
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) { return {status: r.status, answer: answer}; });
    }).then(function (res) {
      var error = (res.answer && res.answer.error) || {};
      if (res.status === 200) {
        lastSent = text;
        base = res.answer.saved_at || base;
        if (JSON.stringify(fields()) === text) forget(); else keepHere();  // typed on while it was saving
        say(res.answer.saved_time ? "草稿已自动保存 " + res.answer.saved_time : "草稿已自动保存", "saved");
      } else if (res.status === 401) {
        expired(error.sign_in);
      } else {
        say("保存失败：" + (error.message || ("服务器答复 " + res.status)), "failed");
      }
    }).catch(function () {
      say("保存失败：网络连接中断，打分已保存在本机浏览器中，恢复连接后会自动保存。", "failed");
    }).then(function () {
      busy = false;
      if (again) { again = false; save(); }
    });
  }

  function soon() {
    keepHere();
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 1000);
  }

  function now() {
    if (timer) { clearTimeout(timer); save(); }
  }

  // the copy kept here when the last save did not reach the server (a session ended, a network down)
  var copy = kept();
  if (copy && copy.fields) {
    if (copy.base === base) {
      Object.keys(copy.fields).forEach(function (name) {
        var el = form.elements.namedItem(name);
        if (el) el.value = copy.fields[name];
      });
      say("已恢复本机浏览器中保存的打分。", "restored");
      if (!submitted) timer = setTimeout(save, 0);
    } else {
      forget();  // the server has a later save (this page's form, another device): it is the newer
    }
  }
  lastSent = copy && copy.base === base ? null : JSON.stringify(fields());

  form.addEventListener("input", soon);
  form.addEventListener("focusout", now);
  form.addEventListener("submit", function () {
    if (timer) clearTimeout(timer);
    timer = null;
    // kept until the page it leads to shows the server has it: a session ended just now loses nothing either
    keepHere();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { leaving = true; now(); leaving = false; }
  });
})();
