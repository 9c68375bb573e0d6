// The hosted submission pages (services/intake/submission_pages.py): everything through the public API, /api/v1,
// with the person's session and its CSRF token, as a portal would with its key. Views by the address's hash:
//   #/              the campaigns and tracks open to the person, with deadlines; their works
//   #/new/C/T       a new work of track T of campaign C: the org, the fields (live 字数), saved as a draft
//   #/work/ID       a work: its fields, its files (upload with progress, resumed after a dropped connection; the
//                   media check's findings as they arrive), submit and the receipt, withdraw
(function () {
  "use strict";
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var app = document.getElementById("app");
  var LEVELS = {branch: "党支部", level2: "二级党组织", university: "学校党委"};
  var POLL_MS = 1500;

  // ------------------------------------------------------------------ the API

  function ApiError(status, error) {
    this.status = status;
    this.code = (error && error.code) || "network";
    this.message = (error && error.message) || "网络连接中断，请检查网络后重试。";
    this.details = (error && error.details) || [];
  }

  function randomKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  async function api(method, path, body, idempotencyKey) {
    var headers = {"X-CSRF-Token": csrf, "Accept": "application/json"};
    var tenant = localStorage.getItem("submit.tenant");
    if (tenant) { headers["X-Siyige-Tenant"] = tenant; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    // every POST carries an idempotency key: a retry after a dropped answer does not make a second work
    if (method === "POST") { headers["Idempotency-Key"] = idempotencyKey || randomKey(); }
    var response;
    try {
      response = await fetch("/api/v1" + path, {method: method, headers: headers, credentials: "same-origin",
                                                body: body === undefined ? undefined : JSON.stringify(body)});
    } catch (e) {
      throw new ApiError(0, null);
    }
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      if (response.status === 401) { signInAgain(); }
      throw new ApiError(response.status, data && data.error);
    }
    return data;
  }

  function signInAgain() {
    show(el("p", {class: "error", role: "alert"}, "登录已失效。请", el("a", {href: "/sign-in"}, "重新登录"), "后回到本页。"));
  }

  // ------------------------------------------------------------------ drawing

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), v); } else { node.setAttribute(k, v === true ? "" : v); }
    });
    for (var i = 2; i < arguments.length; i++) { append(node, arguments[i]); }
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }

  function show() {
    var page = document.createDocumentFragment();
    append(page, Array.prototype.slice.call(arguments));
    app.replaceChildren(page);
    var heading = app.querySelector("h1");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  }

  function problem(error) {
    var more = error.details.filter(function (d) { return d.message && d.message !== error.message; });
    return el("div", {class: "error", role: "alert"},
      el("p", null, error.message),
      more.length ? el("ul", {class: "problems"}, more.map(function (d) { return el("li", null, d.message); })) : null);
  }

  // a moment as Beijing time: "2020-07-31 23:59（北京时间）"
  function beijing(iso) {
    if (!iso) { return ""; }
    var t = new Date(iso);
    var b = new Date(t.getTime() + 8 * 3600 * 1000);
    var pad = function (n) { return String(n).padStart(2, "0"); };
    return b.getUTCFullYear() + "-" + pad(b.getUTCMonth() + 1) + "-" + pad(b.getUTCDate()) + " " +
      pad(b.getUTCHours()) + ":" + pad(b.getUTCMinutes()) + "（北京时间）";
  }

  function size(bytes) {
    if (bytes >= 1024 * 1024) { return (bytes / 1024 / 1024).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function deadlines(stage) {
    var d = stage.deadlines || {};
    return Object.keys(d).map(function (level) { return (LEVELS[level] || level) + "截止 " + beijing(d[level]); }).join("；");
  }

  function fileRule(kind, rule, media) {
    var parts = [rule.min ? "至少 " + rule.min + " 个" : "可选"];
    if (rule.max) { parts.push("最多 " + rule.max + " 个"); }
    var m = media && media[kind];
    if (m && m.max_bytes) { parts.push("每个不超过 " + size(m.max_bytes)); }
    var hints = (m && m.rules || []).filter(function (r) { return r.severity === "error" && r.hint; })
      .map(function (r) { return r.hint.replace(/[。.]$/, "") + "。"; });
    return ({video: "视频", image: "图片", document: "文档", subtitle: "字幕", audio: "音频"}[kind] || kind) + "：" +
      parts.join("，") + "。" + hints.join("");
  }

  // ------------------------------------------------------------------ #/  campaigns and works

  async function home() {
    show(el("p", null, "正在加载…"));
    var me = await api("GET", "/me");
    var listed = (await api("GET", "/campaigns")).items;
    // a university's own copy replaces the ministry's campaign it derives from: its people submit to the copy
    var copied = listed.map(function (c) { return c.derives_from; });
    listed = listed.filter(function (c) { return copied.indexOf(c.id) < 0; });
    var campaigns = await Promise.all(listed.map(function (c) { return api("GET", "/campaigns/" + encodeURIComponent(c.id)); }));
    var works = (await api("GET", "/submissions?per_page=100")).items;
    var names = await orgNames();
    var levels = (await orgs()).map(function (o) { return o.level; });
    var list = campaigns.map(function (c) {
      // the tracks one of the person's orgs may submit to
      var open = Object.keys(c.tracks).filter(function (key) {
        return (c.tracks[key].submit_levels || []).some(function (l) { return levels.indexOf(l) >= 0; });
      });
      return open.length ? el("section", {class: "campaign"},
        el("h2", null, c.title),
        open.map(function (key) {
          var t = c.tracks[key];
          return el("div", {class: "track"},
            el("h3", null, t.label),
            el("ul", null, t.stages.map(function (s) { return el("li", null, s.label + "：" + (deadlines(s) || "不设截止时间")); })),
            t.naming_rule ? el("p", {class: "hint"}, "文件名须以报送组织的名称开头，平台会自动补上。") : null,
            el("a", {class: "button", href: "#/new/" + encodeURIComponent(c.id) + "/" + encodeURIComponent(key)}, "新建" + t.label + "作品"));
        })) : null;
    }).filter(Boolean);
    var rows = works.map(function (w) {
      return el("tr", null,
        el("td", null, el("a", {href: "#/work/" + w.id}, w.title || "（未命名）")),
        el("td", null, names[w.org_id] || w.org_id),
        el("td", null, w.state_label + (w.complete ? "" : w.stage ? "（未完成）" : "") +
                       (w.result ? "，" + (w.result.words || w.result.label || "") : "")),
        el("td", null, w.receipt_no || ""));
    });
    show(el("h1", null, me.name + " · 报送作品"),
      el("h2", null, "我的作品"),
      rows.length ? el("table", {class: "works"}, el("tr", null, el("th", null, "作品"), el("th", null, "组织"),
                                                    el("th", null, "状态"), el("th", null, "回执编号")), rows)
                  : el("p", {class: "hint"}, "还没有作品。从下面的活动中选择一项开始。"),
      list.length ? list : el("p", null, "目前没有您所在组织可以报送的活动。"));
  }

  var orgCache = null;
  async function orgs() {
    if (!orgCache) { orgCache = (await api("GET", "/orgs?per_page=200")).items; }
    return orgCache;
  }

  async function orgNames() {
    var found = {};
    (await orgs()).forEach(function (o) { found[o.id] = o.name; });
    return found;
  }

  // ------------------------------------------------------------------ fields, with the live 字数

  function fieldInput(field, value, readonly) {
    var id = "f-" + field.key, attrs = {id: id, name: field.key, readonly: readonly, required: field.required};
    var input;
    if (field.type === "text") {
      input = el("textarea", Object.assign(attrs, {rows: 10}));
      input.value = value || "";
    } else if (field.type === "choice") {
      input = el("select", attrs, el("option", {value: ""}, "请选择"),
        (field.choices || []).map(function (c) {
          return el("option", {value: c, selected: c === value}, (field.choice_labels || {})[c] || c);
        }));
    } else if (field.type === "list" || field.type === "choices") {
      input = el("input", Object.assign(attrs, {type: "text"}));
      input.value = (value || []).join("、");
    } else if (field.type === "people") {
      // one person a line: 姓名，职务，所在组织 (the last two may be left out)
      input = el("textarea", Object.assign(attrs, {rows: 3}));
      input.value = (value || []).map(function (p) { return [p.name, p.post, p.org].filter(Boolean).join("，"); }).join("\n");
    } else {
      var types = {date: "date", url: "url", number: "number", phone: "tel"};
      input = el("input", Object.assign(attrs, {type: types[field.type] || "text"}));
      input.value = value == null ? "" : value;
    }
    var counted = field.type === "text" || (field.type === "string" && (field.max_chars || field.min_chars));
    var counter = counted ? el("span", {class: "count", id: id + "-count", "aria-live": "polite"}) : null;
    function recount() {
      var n = window.countChars(input.value), limits = [];
      if (field.min_chars) { limits.push("至少 " + field.min_chars); }
      if (field.max_chars) { limits.push("不超过 " + field.max_chars); }
      counter.textContent = n + " 字" + (limits.length ? "（" + limits.join("，") + " 字）" : "");
      var wrong = (field.max_chars && n > field.max_chars) || (field.min_chars && n > 0 && n < field.min_chars);
      counter.className = wrong ? "count over" : "count";
    }
    if (counted) { input.addEventListener("input", recount); recount(); }
    var hints = {list: "多项用“、”分隔", choices: "可选：" + (field.choices || []).map(function (c) {
      return (field.choice_labels || {})[c] || c; }).join("、") + "；多项用“、”分隔",
                 people: "每行一人：姓名，职务，所在组织（职务和组织可不填）"};
    return el("div", {class: "field"},
      el("label", {for: id}, field.label + (field.required ? "（必填）" : "")),
      input,
      hints[field.type] ? el("span", {class: "hint"}, hints[field.type]) : null,
      counter);
  }

  function readFields(form, fields) {
    var values = {};
    fields.forEach(function (f) {
      var input = form.querySelector("[name='" + f.key + "']");
      if (!input) { return; }
      var raw = input.value;
      if (f.type === "list" || f.type === "choices") {
        var items = raw.split(/[、,，;；\n]/).map(function (s) { return s.trim(); }).filter(Boolean);
        if (f.type === "choices") {  // an option may be typed by its label
          var byLabel = {};
          Object.keys(f.choice_labels || {}).forEach(function (c) { byLabel[f.choice_labels[c]] = c; });
          items = items.map(function (i) { return byLabel[i] || i; });
        }
        if (items.length) { values[f.key] = items; }
      } else if (f.type === "people") {
        var people = raw.split("\n").map(function (line) {
          var parts = line.split(/[，,、\/\t]/).map(function (x) { return x.trim(); });
          var person = {name: parts[0]};
          if (parts[1]) { person.post = parts[1]; }
          if (parts[2]) { person.org = parts[2]; }
          return person;
        }).filter(function (p) { return p.name; });
        if (people.length) { values[f.key] = people; }
      } else if (f.type === "number") {
        if (raw.trim()) { values[f.key] = Number(raw); }
      } else if (raw.trim()) {
        values[f.key] = raw;
      }
    });
    return values;
  }

  function withThemes(track, campaign) {
    return track.fields.map(function (f) {
      return f.choices_from === "themes" ? Object.assign({}, f, {choices: campaign.themes || []}) : f;
    });
  }

  // ------------------------------------------------------------------ #/new/C/T

  async function newWork(campaignId, trackKey) {
    var campaign = await api("GET", "/campaigns/" + encodeURIComponent(campaignId));
    var track = campaign.tracks[trackKey];
    var eligible = (await orgs()).filter(function (o) { return (track.submit_levels || []).indexOf(o.level) >= 0; });
    var fields = withThemes(track, campaign);
    var status = el("div", {role: "status"});
    var quota = el("p", {class: "hint", id: "quota", "aria-live": "polite"});
    var orgSelect = el("select", {id: "org", name: "org_id", required: true},
      eligible.map(function (o) { return el("option", {value: o.id}, o.name + "（" + (LEVELS[o.level] || o.level) + "）"); }));
    async function showQuota() {
      var org = eligible.find(function (o) { return o.id === orgSelect.value; });
      var most = org && track.quota && track.quota[org.level];
      if (!most) { quota.textContent = ""; return; }
      var theirs = (await api("GET", "/submissions?per_page=100&track=" + encodeURIComponent(trackKey) +
                               "&org_id=" + encodeURIComponent(org.id) + "&campaign_id=" + encodeURIComponent(campaign.id))).items
        .filter(function (w) { return w.state !== "withdrawn"; }).length;
      quota.textContent = "名额：每个" + (LEVELS[org.level] || "组织") + "最多 " + most + " 件，已有 " + theirs + " 件，还可报 " +
        Math.max(0, most - theirs) + " 件。";
    }
    orgSelect.addEventListener("change", showQuota);
    var key = randomKey();  // one work however often the button is pressed
    var form = el("form", {id: "work-form", novalidate: true},
      el("div", {class: "field"}, el("label", {for: "org"}, "报送组织"), orgSelect), quota,
      fields.map(function (f) { return fieldInput(f, null, false); }),
      el("button", {type: "submit"}, "保存草稿"), status);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      status.replaceChildren(el("p", null, "正在保存…"));
      try {
        var work = await api("POST", "/submissions", {campaign_id: campaign.id, track: trackKey, org_id: orgSelect.value,
                                                       fields: readFields(form, fields)}, key);
        location.hash = "#/work/" + work.id;
      } catch (e) { status.replaceChildren(problem(e)); }
    });
    show(el("h1", null, "新建" + track.label + "作品"),
      el("p", {class: "hint"}, campaign.title),
      el("ul", null, track.stages.map(function (s) { return el("li", null, s.label + "：" + deadlines(s)); })),
      eligible.length ? form : el("p", {class: "error"}, "您管理的组织中没有可以报送此赛道的（须为" +
        (track.submit_levels || []).map(function (l) { return LEVELS[l] || l; }).join("、") + "）。"));
    if (eligible.length) { showQuota(); }
  }

  // ------------------------------------------------------------------ #/work/ID

  // 「提交作品」 stays as it is; 「报名」 becomes 「提交报名」
  function submitLabel(stage) {
    return stage.label.indexOf("提交") === 0 ? stage.label : "提交" + stage.label;
  }

  function nextStage(track, work) {
    var at = work.stage ? track.stages.findIndex(function (s) { return s.key === work.stage; }) : -1;
    return work.complete ? null : track.stages[at + 1] || null;
  }

  // what media measured, as a person reads it: 「时长 12:34 · 1920x1080 · 字幕覆盖 85% · 共 12 页」
  function facts(f) {
    if (!f) { return ""; }
    var said = [];
    if (f.duration_s) {
      var m = Math.floor(f.duration_s / 60), sec = Math.round(f.duration_s % 60);
      said.push("时长 " + m + ":" + String(sec).padStart(2, "0"));
    }
    if (f.resolution) { said.push(f.resolution); }
    if (typeof f.subtitle_coverage === "number") { said.push("字幕覆盖 " + Math.round(f.subtitle_coverage * 100) + "%"); }
    if (f.pages) { said.push("共 " + f.pages + " 页"); }
    return said.join(" · ");
  }

  function findings(check) {
    if (!check || !check.verdict) { return el("span", {class: "checking"}, "检查中…"); }
    var label = {passed: "检查通过", failed: "未通过检查", warnings: "检查通过（有提示）"}[check.verdict] || check.verdict;
    return el("div", {class: "check " + check.verdict},
      el("strong", null, label), facts(check.facts) ? el("span", {class: "hint facts"}, " " + facts(check.facts)) : null,
      (check.findings || []).length ? el("ul", null, check.findings.map(function (f) {
        return el("li", {class: f.severity}, (f.severity === "error" ? "错误：" : "提示：") + f.message);
      })) : null);
  }

  async function workPage(id) {
    var work = await api("GET", "/submissions/" + encodeURIComponent(id));
    var campaign = await api("GET", "/campaigns/" + encodeURIComponent(work.campaign_id));
    var track = campaign.tracks[work.track];
    var names = await orgNames();
    var fields = withThemes(track, campaign);
    var stage = nextStage(track, work);
    var status = el("div", {id: "status"});
    var editable = work.state !== "withdrawn";
    var form = el("form", {id: "work-form", novalidate: true},
      fields.map(function (f) { return fieldInput(f, work.fields[f.key], !editable); }),
      editable ? el("button", {type: "submit"}, "保存修改") : null);
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      status.replaceChildren(el("p", null, "正在保存…"));
      try {
        await api("PATCH", "/submissions/" + id, {fields: readFields(form, fields)});
        status.replaceChildren(el("p", {class: "notice", role: "status"}, "已保存。"));
      } catch (e) { status.replaceChildren(problem(e)); }
    });

    var fileStages = track.stages.filter(function (s) { return (s.files || []).length; });
    var kinds = {};
    fileStages.forEach(function (s) { s.files.forEach(function (f) { kinds[f.kind] = f; }); });
    var files = el("section", {id: "files"}, el("h2", null, "文件"),
      (work.files || []).length ? el("ul", {class: "files"}, work.files.map(function (f) {
        return el("li", {"data-file": f.id},
          el("span", {class: "name"}, f.name), " ", el("span", {class: "hint"}, size(f.size)), " ",
          f.state === "stored" ? findings(f.check) : el("span", {class: "hint"}, "未上传完"),
          editable ? el("button", {type: "button", class: "link", onclick: function () { removeFile(f); }},
                        "删除" + (f.check && f.check.verdict === "failed" ? "（以便重新上传）" : "")) : null);
      })) : el("p", {class: "hint"}, "还没有文件。"),
      editable ? Object.keys(kinds).map(function (kind) { return uploader(work, kind, kinds[kind], track.media); }) : null);

    var actions = el("section", {id: "actions"});
    if (stage && editable) {
      actions.append(el("h2", null, "下一步：" + submitLabel(stage)),
        el("p", {class: "hint"}, deadlines(stage)),
        (stage.required_fields || []).length ? el("p", {class: "hint"}, "本阶段须填写：" + stage.required_fields.map(function (k) {
          var f = track.fields.find(function (x) { return x.key === k; });
          return f ? f.label : k;
        }).join("、")) : null,
        el("button", {type: "button", id: "submit-work", onclick: function () { submitWork(work, stage); }}, submitLabel(stage)));
    }
    if (work.state === "submitted") {
      actions.append(el("button", {type: "button", class: "secondary", id: "withdraw-work",
                                   onclick: function () { withdrawWork(work); }}, "撤回作品"));
    }
    actions.append(el("div", {id: "action-status"}));
    show(el("h1", null, work.title || "（未命名作品）"),
      el("p", {class: "hint"}, campaign.title + " · " + track.label + " · " + (names[work.org_id] || work.org_id)),
      el("p", {id: "state"}, "状态：" + work.state_label + (work.receipt_no ? "，回执编号 " : ""),
        work.receipt_no ? el("strong", {id: "receipt"}, work.receipt_no) : null,
        work.result ? "，评选结果：" + (work.result.words || work.result.label || "") : ""),
      status, form, files, actions, el("p", null, el("a", {href: "#/"}, "返回我的作品")));
    var pending = (work.files || []).filter(function (f) { return f.state === "stored" && !(f.check && f.check.verdict); });
    if (pending.length) { setTimeout(function () { if (location.hash === "#/work/" + id) { route(); } }, POLL_MS); }
  }

  async function removeFile(f) {
    if (!confirm("删除文件“" + f.name + "”？")) { return; }
    try { await api("DELETE", "/files/" + f.id); route(); } catch (e) { document.getElementById("status").replaceChildren(problem(e)); }
  }

  async function submitWork(work, stage) {
    var status = document.getElementById("action-status");  // beside the button: a refusal is read where it was asked
    status.replaceChildren(el("p", null, "正在提交…"));
    try {
      var done = await api("POST", "/submissions/" + work.id + "/submit", {stage: stage.key});
      await route();
      window.scrollTo(0, 0);
      document.getElementById("status").replaceChildren(el("p", {class: "notice", role: "status"},
        "已" + submitLabel(stage) + "，回执编号 " + done.receipt_no + "。回执也已发送到本组织的联系邮箱。"));
    } catch (e) { status.replaceChildren(problem(e)); }
  }

  async function withdrawWork(work) {
    if (!confirm("撤回后作品不再参加评选；截止前可修改后重新提交。确定撤回？")) { return; }
    try { await api("POST", "/submissions/" + work.id + "/withdraw", {}); route(); }
    catch (e) { document.getElementById("action-status").replaceChildren(problem(e)); }
  }

  // ------------------------------------------------------------------ uploads

  var ACCEPT = {video: "video/*,.mp4,.mov,.mkv,.avi,.wmv,.flv,.webm", image: "image/jpeg,image/png",
                document: ".docx,.pdf", subtitle: ".srt,.vtt,.ass", audio: "audio/*"};

  function uploader(work, kind, rule, media) {
    var id = "upload-" + kind;
    var input = el("input", {type: "file", id: id, accept: ACCEPT[kind] || null});
    var bar = el("progress", {max: 100, value: 0, hidden: true, "aria-label": "上传进度"});
    var said = el("span", {class: "hint", "aria-live": "polite"});
    input.addEventListener("change", function () {
      if (input.files[0]) { upload(work, kind, input.files[0], bar, said).then(route, function (e) {
        said.replaceChildren(problem(e));
      }); }
    });
    return el("div", {class: "uploader"}, el("label", {for: id}, "上传" + fileRule(kind, rule, media)), input, bar, said);
  }

  function progress(bar, said, text, done, total) {
    bar.hidden = false;
    bar.value = total ? Math.floor(done * 100 / total) : 0;
    said.textContent = text + " " + bar.value + "%";
  }

  async function upload(work, kind, file, bar, said) {
    var sha = await window.sha256OfFile(file, function (d, t) { progress(bar, said, "正在计算校验值", d, t); });
    var ticket = await api("POST", "/submissions/" + work.id + "/files",
                           {kind: kind, filename: file.name, size: file.size, sha256: sha,
                            content_type: file.type || "application/octet-stream"});
    var target = ticket.upload, parts = null;
    if (target.multipart) {
      parts = await sendParts(target.multipart, file, bar, said);
    } else {
      await sendResumable(target, file, bar, said);
    }
    said.textContent = "正在确认…";
    await api("POST", "/files/" + ticket.file.id + "/complete", parts ? {parts: parts} : undefined);
    said.textContent = "已上传，正在检查…";
  }

  // One PUT of bytes [from, file.size) with progress; resolves to the status, rejects on a dropped connection.
  function put(url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      Object.keys(headers || {}).forEach(function (h) { xhr.setRequestHeader(h, headers[h]); });
      xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { reject(new ApiError(0, null)); };
      xhr.send(body);
    });
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  // The folder store's upload URL takes the rest of a file after a dropped connection: ask how much arrived (GET),
  // send from there with Content-Range (202: the connection ended before the last byte; go on the same way). A few tries, waiting longer each time (a phone between two cells).
  async function sendResumable(target, file, bar, said) {
    var from = 0;
    for (var attempt = 0; attempt < 8; attempt++) {
      var headers = Object.assign({}, target.headers || {});
      if (from > 0) { headers["Content-Range"] = "bytes " + from + "-" + (file.size - 1) + "/" + file.size; }
      try {
        var xhr = await put(target.url, headers, file.slice(from), function (loaded) {
          progress(bar, said, from ? "正在续传" : "正在上传", from + loaded, file.size);
        });
        if (xhr.status === 200) { progress(bar, said, "已上传", 1, 1); return; }
        if (xhr.status === 202) { throw new ApiError(202, null); }
        var error = null;
        try { error = JSON.parse(xhr.responseText).error; } catch (e) { error = null; }
        throw Object.assign(new ApiError(xhr.status, error), {final: xhr.status !== 409});
      } catch (e) {
        if (e.final) { throw e; }
        said.textContent = "连接中断，正在续传…";
        await wait(Math.min(1000 * Math.pow(2, attempt), 15000));
        from = await received(target.url);
      }
    }
    throw new ApiError(0, {code: "upload_interrupted", message: "上传多次中断。请检查网络后重新选择文件上传。"});
  }

  async function received(url) {
    try {
      var r = await fetch(url, {credentials: "omit", headers: {"Accept": "application/json"}});
      return r.ok ? (await r.json()).received : 0;
    } catch (e) { return 0; }
  }

  // S3's multipart upload: each part to its own URL; a part that fails is sent again alone.
  async function sendParts(multipart, file, bar, said) {
    var done = [], sent = 0;
    for (var i = 0; i < multipart.parts.length; i++) {
      var part = multipart.parts[i], start = (part.part_number - 1) * multipart.part_size;
      var body = file.slice(start, Math.min(start + multipart.part_size, file.size));
      for (var attempt = 0; ; attempt++) {
        try {
          var xhr = await put(part.url, part.headers || {}, body, function (loaded) { progress(bar, said, "正在上传", sent + loaded, file.size); });
          if (xhr.status !== 200) { throw new ApiError(xhr.status, null); }
          done.push({part_number: part.part_number, etag: xhr.getResponseHeader("ETag")});
          sent += body.size;
          break;
        } catch (e) {
          if (attempt >= 5) { throw e; }
          said.textContent = "连接中断，正在重传第 " + part.part_number + " 段…";
          await wait(Math.min(1000 * Math.pow(2, attempt), 15000));
        }
      }
    }
    return done;
  }

  // ------------------------------------------------------------------ routing

  async function route() {
    var parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    try {
      if (parts[0] === "new" && parts.length === 3) { await newWork(parts[1], parts[2]); }
      else if (parts[0] === "work" && parts[1]) { await workPage(parts[1]); }
      else { await home(); }
    } catch (e) {
      if (e instanceof ApiError) { if (e.status !== 401) { show(problem(e), el("p", null, el("a", {href: "#/"}, "返回我的作品"))); } }
      else { throw e; }
    }
  }

  var chooser = document.getElementById("tenant");
  if (chooser) {
    chooser.value = localStorage.getItem("submit.tenant") || chooser.value;
    localStorage.setItem("submit.tenant", chooser.value);
    chooser.addEventListener("change", function () { localStorage.setItem("submit.tenant", chooser.value); orgCache = null; route(); });
  } else {
    localStorage.removeItem("submit.tenant");
  }
  window.addEventListener("hashchange", route);
  route();
})();
