/*
 * The tickets page: plain JavaScript, no library, no build step.
 *
 * It talks to the services as any client of the system does: by name and
 * version, under /NAME/vX.Y.Z/. Queries ask for tickets 1.0.1 (as in the
 * article) and fall back to the older versions of the same major when one
 * fails (no connection, 5xx, an answer that is not JSON); a 4xx is the
 * page's own fault and is never retried elsewhere. Every call it made is
 * listed on the page, with the versions that failed and the one that
 * answered.
 *
 * The list is read a page at a time (?limit=N&after=ID: the tickets after
 * ID, each with its replyCount instead of its replies), never whole: at a
 * million replies the whole list is some 150 MB. The service gives no
 * total, so the page says which tickets it shows ("Tickets 21-40"), and
 * keeps the cursors of the pages before for Previous.
 *
 * Everything received is put in the page with textContent, never as HTML.
 */
'use strict';

(function () {
  var QUERY_VERSION = '1.0.1';   // what the page asks for, as in the article
  var FEED_VERSION = '1.0.0';
  var FEED_POLL_MS = 1000;       // a reply shows within a second or two
  var HEALTH_POLL_MS = 5000;
  var RETRY_MS = 3000;           // after a failure, the view is read again
  var VIEW_REFRESH_MS = 10000;   // and every 10 s anyway (a new reply reads it at once)
  var CALL_TIMEOUT_MS = 6000;
  var CALLS_SHOWN = 8;
  var PAGE_SIZES = [5, 10, 25, 50];
  var MESSAGE_MAX = 10000;       // bytes, as the tickets service checks
  var DOUBLE_CLICK_MS = 1500;
  var DEFAULT_VERSIONS = { tickets: ['1.0.1', '1.0.0'], replyfeed: ['1.0.0'] };
  var OPS_POLL_MS = 5000;        // the operations view reads itself again
  var DEAD_SHOWN = 25;           // dead letters listed, newest first
  var CONFIRM_GUARD_MS = 600;    // a double click on Replay does not confirm it

  var state = {
    versions: DEFAULT_VERSIONS,
    want: { after: '', back: [], size: 10 },  // the page of tickets asked for:
                            // after this id, the cursors of the pages before
    shown: null,            // the page shown: want's fields, tickets, next
    listSeq: 0,             // the number of the last read of the list sent,
    listApplied: 0,         // and of the last one shown (an older is dropped)
    feed: [],
    feedEtag: null,
    feedSeen: null,         // ids of the replies shown, to mark new ones
    calls: [],
    retryTimer: null,
    sending: false,
    sentAt: 0,              // when the last reply was added
    pending: null,          // {text, key}: the reply being sent, and its key
    ops: {                  // the operations view
      seq: 0,               // the number of the last read sent
      timer: null,
      subs: null,           // the subscriptions, as last read (null: none shown)
      dead: null,           // the dead letters, as last read
      refused: null,        // why the service refused to show them, in words
      confirming: null,     // the dead letter whose replay awaits a yes
      confirmAt: 0,
      replaying: {},        // dead letters whose replay is on its way
      result: null          // {text, kind}: the outcome of the last replay
    }
  };

  // --- small helpers ---------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  // el('p', {class: 'x'}, 'text', child...): an element; strings become text.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    var name;
    for (name in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
      if (attrs[name] === false || attrs[name] === null || attrs[name] === undefined) continue;
      if (name === 'text') node.textContent = attrs[name];
      else if (name.slice(0, 2) === 'on') node.addEventListener(name.slice(2), attrs[name]);
      else node.setAttribute(name, attrs[name] === true ? '' : attrs[name]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }

  // Run DRAW, which redraws part of the page, and give the focus back to
  // the element that had it (by id), so that a refresh never takes it away.
  function keepFocus(draw) {
    var had = document.activeElement && document.activeElement.id;
    draw();
    if (had && document.activeElement && document.activeElement.id !== had) {
      var again = document.getElementById(had);
      if (again) again.focus();
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function clock(d) {
    return d.toTimeString().slice(0, 8);
  }

  function utf8Length(s) {
    return new TextEncoder().encode(s).length;
  }

  // An Idempotency-Key: 128 random bits (crypto.randomUUID needs a secure
  // context; getRandomValues does not).
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return 'page-' + Array.prototype.map.call(b, function (x) {
      return (x < 16 ? '0' : '') + x.toString(16);
    }).join('');
  }

  function isTicketId(s) { return /^[0-9a-f]{24}$/.test(s); }

  // --- versions and calls with fallback --------------------------------------

  function parseVersion(v) {
    var m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?/.exec(v);
    return m ? [+m[1], +m[2], +m[3], m[4] || null] : null;
  }

  function compareVersions(a, b) {
    var x = parseVersion(a), y = parseVersion(b);
    for (var i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
    if (x[3] === y[3]) return 0;
    if (x[3] === null) return 1;     // a release is after its pre-releases
    if (y[3] === null) return -1;
    return x[3] < y[3] ? -1 : 1;
  }

  // The versions of NAME to try for WANT, in order: the newest of the same
  // major at or above WANT first, then the older ones of the same major
  // (a patch keeps the API: a query for 1.0.1 may be answered by 1.0.0),
  // as libvdispatch does.
  function candidates(name, want) {
    var all = (state.versions[name] || []).filter(function (v) {
      return parseVersion(v) !== null;
    });
    var major = parseVersion(want)[0];
    var same = all.filter(function (v) { return parseVersion(v)[0] === major; });
    same.sort(function (a, b) { return compareVersions(b, a); });
    var newer = same.filter(function (v) { return compareVersions(v, want) >= 0; });
    var older = same.filter(function (v) { return compareVersions(v, want) < 0; });
    return newer.concat(older);
  }

  function fetchWithTimeout(url, options) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, CALL_TIMEOUT_MS);
    options.signal = ctl.signal;
    return fetch(url, options).finally(function () { clearTimeout(timer); });
  }

  // One attempt: resolves to {version, status, body, headers} or, on a
  // failure that moves to the next version, {version, failure, status}.
  function attempt(name, version, path, options) {
    var url = '/' + name + '/v' + version + path;
    return fetchWithTimeout(url, Object.assign({ cache: 'no-store' }, options))
      .then(function (resp) {
        if (resp.status === 304) return { version: version, status: 304, headers: resp.headers };
        return resp.text().then(function (text) {
          var body;
          try { body = text === '' ? null : JSON.parse(text); } catch (e) { body = undefined; }
          if (resp.status >= 500) {
            return { version: version, status: resp.status, body: body,
                     failure: 'HTTP ' + resp.status + (body && body.error ? ', ' + body.error : '') };
          }
          if (body === undefined) {
            return { version: version, status: resp.status, failure: 'an answer that is not JSON' };
          }
          return { version: version, status: resp.status, body: body, headers: resp.headers };
        });
      }, function (err) {
        var timeout = err && err.name === 'AbortError';
        return { version: version, status: 0,
                 failure: timeout ? 'no answer within ' + CALL_TIMEOUT_MS / 1000 + ' s' : 'no connection' };
      });
  }

  // Call NAME at version WANT, falling back; resolves to
  // {ok, status, body, version, failed: [attempts that failed], tried}.
  // Never rejects. LOG: what to call it in the list of calls (none: not listed).
  // ONCE: a request that must not be sent twice (a replay): it goes to
  // another version only when nginx could not reach the first (502).
  function call(name, want, path, options, log, once) {
    var list = candidates(name, want);
    var failed = [];
    function next(i) {
      var stop = once && failed.length && failed[failed.length - 1].status !== 502;
      if (i >= list.length || stop) {
        var last = failed[failed.length - 1] || { status: 0 };
        return Promise.resolve({ ok: false, status: last.status, body: last.body,
                                 failed: failed, tried: list });
      }
      return attempt(name, list[i], path, options || {}).then(function (r) {
        if (r.failure) {
          failed.push(r);
          return next(i + 1);
        }
        return { ok: r.status < 400, status: r.status, body: r.body, headers: r.headers,
                 version: r.version, failed: failed, tried: list };
      });
    }
    if (list.length === 0) {
      return Promise.resolve({ ok: false, status: 0, failed: [], tried: [] });
    }
    return next(0).then(function (res) {
      if (log) recordCall(name, log, res);
      return res;
    });
  }

  function failedText(name, failed) {
    return failed.map(function (f) {
      return name + ' ' + f.version + ' failed: ' + f.failure;
    }).join('; ');
  }

  function recordCall(name, what, res) {
    var parts = [];
    res.failed.forEach(function (f) { parts.push(f.version + ' failed (' + f.failure + ')'); });
    if (res.version) parts.push(res.version + ' answered' + (res.ok ? '' : ' HTTP ' + res.status));
    else parts.push('no version answered');
    state.calls.unshift({ at: new Date(), what: name + ': ' + what, how: parts.join(', then '),
                          fellBack: res.failed.length > 0, ok: !!res.version });
    state.calls.length = Math.min(state.calls.length, CALLS_SHOWN);
    renderCalls();
  }

  function renderCalls() {
    var list = clear($('calls'));
    state.calls.forEach(function (c) {
      list.appendChild(el('li', { class: c.ok ? (c.fellBack ? 'fell-back' : 'direct') : 'failed' },
        el('time', { text: clock(c.at) }), ' ', el('span', { class: 'what', text: c.what }),
        el('br'), el('span', { class: 'how', text: c.how })));
    });
  }

  // --- banners ------------------------------------------------------------------

  // Errors by topic ("db", "service", "reply", ...), shown until cleared.
  var alerts = {};
  var notices = {};

  function setBanner(store, region, kind, topic, text) {
    // Unchanged: the live region is left alone (a screen reader would
    // read it out again).
    if ((store[topic] || null) === (text || null)) return;
    if (text) store[topic] = text; else delete store[topic];
    var box = clear($(region));
    Object.keys(store).forEach(function (t) {
      box.appendChild(el('p', { class: 'banner ' + kind, 'data-topic': t, text: store[t] }));
    });
  }
  function alertOn(topic, text) { setBanner(alerts, 'alerts', 'error', topic, text); }
  function alertOff(topic) { setBanner(alerts, 'alerts', 'error', topic, null); }
  function noticeOn(topic, text) { setBanner(notices, 'notices', 'notice', topic, text); }
  function noticeOff(topic) { setBanner(notices, 'notices', 'notice', topic, null); }

  // What went wrong with a call of the tickets service, in words; null when
  // it answered.
  function outageText(res, doing) {
    if (res.version) return null;
    var db = res.failed.some(function (f) { return f.status === 503; });
    if (db) {
      return 'The database is unavailable, so ' + doing + ' is not possible right now ' +
        '(the tickets service answered 503). This page tries again by itself every ' +
        RETRY_MS / 1000 + ' seconds' + (state.shown ? '; what it shows is as it was last read.' : '.');
    }
    if (res.failed.length && res.failed.every(function (f) { return f.status === 0; })) {
      return 'The server cannot be reached (' + failedText('tickets', res.failed) +
        '). This page tries again by itself.';
    }
    if (res.tried.length === 0) return 'No version of the tickets service is deployed.';
    return 'No version of the tickets service could answer (' +
      failedText('tickets', res.failed) + '). This page tries again by itself.';
  }

  // Tell which version answered when a newer one failed.
  function showFallback(res, what) {
    if (res.version && res.failed.length) {
      noticeOn('fallback', 'Version ' + res.failed.map(function (f) { return f.version; }).join(', ') +
        ' of the tickets service failed (' + res.failed.map(function (f) { return f.failure; }).join('; ') +
        '); version ' + res.version + ' answered ' + what + '.');
    } else if (res.version) {
      noticeOff('fallback');
    }
  }

  // --- views ------------------------------------------------------------------------

  function route() {
    var m = /^#\/tickets\/([^/?]+)$/.exec(location.hash);
    if (m) return { view: 'ticket', id: decodeURIComponent(m[1]) };
    if (location.hash === '#/operations') return { view: 'operations' };
    return { view: 'list' };
  }

  function scheduleRetry() {
    if (state.retryTimer) return;
    state.retryTimer = setTimeout(function () {
      state.retryTimer = null;
      refresh(false);
    }, RETRY_MS);
  }

  // Read what the current view shows. FOCUS: move the focus to its heading
  // (after a navigation, not after a refresh).
  function refresh(focus) {
    var r = route();
    if (r.view === 'ticket') return loadTicket(r.id, focus);
    if (r.view === 'operations') return loadOps(focus);
    return loadList(focus);
  }

  function focusHeading() {
    var h = document.querySelector('#view h2');
    if (h) h.focus();
  }

  function statusBadge(status) {
    var s = String(status || 'unknown');
    return el('span', { class: 'badge status-' + s.toLowerCase().replace(/[^a-z]+/g, '-'), text: s });
  }

  // The paged list gives a replyCount; a whole ticket, its replies.
  function replyCount(t) {
    if (typeof t.replyCount === 'number') return t.replyCount;
    return Array.isArray(t.replies) ? t.replies.length : 0;
  }

  // Where the page after RES starts: the after= of its Link rel="next"
  // (sent when the page was full), or the last id of a full page; null
  // when there is no next page.
  function nextCursor(res, want) {
    var link = res.headers && res.headers.get('Link');
    var m = link && /<([^>]*)>\s*;\s*rel="next"/.exec(link);
    if (m) {
      var after = new URL(m[1], location.href).searchParams.get('after');
      if (after) return after;
    }
    var last = res.body[res.body.length - 1];
    return res.body.length >= want.size && last && isTicketId(String(last._id)) ? String(last._id) : null;
  }

  // The number of the first ticket of the page WANT (1 for the first).
  function firstNumber(want) { return want.back.length * want.size + 1; }

  // Read the page of tickets asked for (state.want). A page answered after
  // another was asked for, or after a newer read of the same page, is
  // dropped; a failure leaves the page shown as it was.
  function loadList(focus) {
    var want = state.want;
    var seq = ++state.listSeq;
    var path = '/tickets?limit=' + want.size + (want.after ? '&after=' + encodeURIComponent(want.after) : '');
    return call('tickets', QUERY_VERSION, path, {}, 'list, ' + want.size + ' from number ' + firstNumber(want))
      .then(function (res) {
        if (want !== state.want || seq < state.listApplied) return;
        var outage = outageText(res, 'reading the tickets');
        if (outage) {
          alertOn('service', outage);
          noticeOff('fallback');
          scheduleRetry();
          if (!state.shown && route().view === 'list') renderListUnavailable();
          return;
        }
        alertOff('service');
        if (!res.ok || !Array.isArray(res.body)) {
          alertOn('service', 'The tickets could not be read: ' + errorDetail(res) + '.');
          return;
        }
        showFallback(res, 'the list of tickets');
        state.listApplied = seq;
        state.shown = { after: want.after, back: want.back, size: want.size,
                        tickets: res.body.slice(0, want.size), next: nextCursor(res, want) };
        if (route().view === 'list') {
          keepFocus(renderList);
          if (focus) focusHeading();
        }
      });
  }

  function errorDetail(res) {
    var b = res.body || {};
    return 'HTTP ' + res.status + (b.error ? ', ' + b.error : '') + (b.detail ? ': ' + b.detail : '');
  }

  function renderListUnavailable() {
    var view = clear($('view'));
    view.removeAttribute('data-ticket');
    view.appendChild(el('h2', { tabindex: '-1', text: 'All tickets' }));
    view.appendChild(el('p', { class: 'empty', text: 'The tickets cannot be shown right now (see the message above).' }));
  }

  // "Tickets 21–30", or what an empty page means.
  function rangeText(page) {
    var first = firstNumber(page);
    if (page.tickets.length) return 'Tickets ' + first + '–' + (first + page.tickets.length - 1);
    return page.back.length ? 'No tickets after number ' + (first - 1) : 'No tickets';
  }

  function renderList() {
    var page = state.shown;
    if (!page) return;
    var view = clear($('view'));
    view.removeAttribute('data-ticket');

    view.appendChild(el('h2', { tabindex: '-1', id: 'list-title', text: 'All tickets' }));
    view.appendChild(el('p', { class: 'hint', id: 'list-count',
      text: rangeText(page) + ', ' + page.size + ' a page, oldest first' }));

    if (!page.tickets.length && !page.back.length) {
      view.appendChild(el('p', { class: 'empty', text: 'There are no tickets.' }));
      return;
    }
    if (!page.tickets.length) {
      view.appendChild(el('p', { class: 'empty', text: 'There are no more tickets.' }));
      view.appendChild(pager(page));
      return;
    }
    var body = el('tbody');
    page.tickets.forEach(function (t) {
      var id = String(t._id || '');
      body.appendChild(el('tr', { 'data-id': id },
        el('td', { class: 'num', 'data-label': 'Number', text: t.id !== undefined ? String(t.id) : '' }),
        el('th', { scope: 'row', 'data-label': 'Title' },
          isTicketId(id) ? el('a', { href: '#/tickets/' + id, text: String(t.title || '(no title)') })
                         : String(t.title || '(no title)')),
        el('td', { 'data-label': 'Status' }, statusBadge(t.status)),
        el('td', { 'data-label': 'Assigned to', text: t.assignedTo ? String(t.assignedTo) : 'nobody' }),
        el('td', { class: 'count', 'data-label': 'Replies', text: String(replyCount(t)) })));
    });
    view.appendChild(el('table', { class: 'tickets', 'aria-labelledby': 'list-title', 'aria-describedby': 'list-count' },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', class: 'num', text: 'No.' }),
        el('th', { scope: 'col', text: 'Title' }),
        el('th', { scope: 'col', text: 'Status' }),
        el('th', { scope: 'col', text: 'Assigned to' }),
        el('th', { scope: 'col', class: 'count', text: 'Replies' }))),
      body));
    view.appendChild(pager(page));
  }

  // Ask for the page WANT, and once it is read, give the focus to the
  // control ID (or to the heading when that control is now disabled).
  function goTo(want, id) {
    state.want = want;
    loadList(false).then(function () {
      var b = $(id);
      if (b && !b.disabled) b.focus(); else focusHeading();
    });
  }

  function pager(page) {
    var size = el('select', { id: 'page-size', onchange: function () {
      goTo({ after: '', back: [], size: +this.value }, 'page-size');
    } });
    PAGE_SIZES.forEach(function (n) {
      size.appendChild(el('option', { value: String(n), selected: n === page.size, text: String(n) }));
    });
    function previous() {
      var back = page.back.slice(0, -1);
      goTo({ after: page.back[page.back.length - 1], back: back, size: page.size }, 'page-prev');
    }
    function next() {
      goTo({ after: page.next, back: page.back.concat([page.after]), size: page.size }, 'page-next');
    }
    return el('nav', { class: 'pager', 'aria-label': 'Pages of tickets' },
      el('button', { type: 'button', id: 'page-prev', disabled: !page.back.length, onclick: previous,
                     text: '← Previous' }),
      el('span', { id: 'page-info', 'aria-live': 'polite', text: rangeText(page) }),
      el('button', { type: 'button', id: 'page-next', disabled: !page.next, onclick: next,
                     text: 'Next →' }),
      el('label', { for: 'page-size', class: 'size' }, 'Tickets per page ', size));
  }

  function loadTicket(id, focus) {
    if (!isTicketId(id)) {
      renderMissing(id, 'This is not a ticket number the service knows (a ticket id is 24 hexadecimal digits).');
      if (focus) focusHeading();
      return Promise.resolve();
    }
    return call('tickets', QUERY_VERSION, '/tickets/' + id, {}, 'ticket ' + id.slice(-6)).then(function (res) {
      if (route().view !== 'ticket' || route().id !== id) return;
      var outage = outageText(res, 'reading this ticket');
      if (outage) {
        alertOn('service', outage);
        noticeOff('fallback');
        scheduleRetry();
        if (!document.querySelector('#view[data-ticket="' + id + '"]')) renderTicketUnavailable();
        return;
      }
      alertOff('service');
      if (res.status === 404) {
        renderMissing(id, 'There is no ticket with this id.');
      } else if (!res.ok || !res.body || typeof res.body !== 'object') {
        alertOn('service', 'The ticket could not be read: ' + errorDetail(res) + '.');
        return;
      } else {
        showFallback(res, 'this ticket');
        keepFocus(function () { renderTicket(res.body); });
      }
      if (focus) focusHeading();
    });
  }

  function backLink() {
    return el('p', { class: 'back' }, el('a', { href: '#/', text: '← All tickets' }));
  }

  function renderMissing(id, text) {
    var view = clear($('view'));
    view.removeAttribute('data-ticket');
    view.appendChild(backLink());
    view.appendChild(el('h2', { tabindex: '-1', text: 'Ticket not found' }));
    view.appendChild(el('p', { class: 'empty', text: text }));
  }

  function renderTicketUnavailable() {
    var view = clear($('view'));
    view.removeAttribute('data-ticket');
    view.appendChild(backLink());
    view.appendChild(el('h2', { tabindex: '-1', text: 'Ticket' }));
    view.appendChild(el('p', { class: 'empty', text: 'This ticket cannot be shown right now (see the message above).' }));
  }

  function renderTicket(t) {
    var view = $('view');
    var id = String(t._id);
    // A refresh redraws the ticket and its replies only: the form keeps
    // what the person is typing, and the focus.
    var body = view.getAttribute('data-ticket') === id ? $('ticket-body') : null;
    if (!body) {
      clear(view);
      view.setAttribute('data-ticket', id);
      view.appendChild(backLink());
      body = el('div', { id: 'ticket-body' });
      view.appendChild(body);
      view.appendChild(replyForm(id));
    }
    clear(body);
    body.appendChild(el('h2', { tabindex: '-1', id: 'ticket-title', text: String(t.title || '(no title)') }));
    var facts = el('dl', { class: 'facts' },
      el('dt', { text: 'Number' }), el('dd', { text: t.id !== undefined ? String(t.id) : id }),
      el('dt', { text: 'Status' }), el('dd', null, statusBadge(t.status)),
      el('dt', { text: 'Assigned to' }), el('dd', { text: t.assignedTo ? String(t.assignedTo) : 'nobody' }));
    if (t.userInitials) {
      facts.appendChild(el('dt', { text: 'Opened by' }));
      facts.appendChild(el('dd', { text: String(t.userInitials) }));
    }
    body.appendChild(facts);
    if (t.description || t.shortDescription) {
      body.appendChild(el('p', { class: 'description', text: String(t.description || t.shortDescription) }));
    }
    var replies = Array.isArray(t.replies) ? t.replies : [];
    body.appendChild(el('h3', { id: 'replies-title', text: plural(replies.length, 'reply', 'replies') }));
    if (replies.length) {
      var list = el('ol', { class: 'replies', 'aria-labelledby': 'replies-title' });
      replies.forEach(function (r) {
        list.appendChild(el('li', null,
          el('p', { class: 'who', text: String(r.user || 'someone') }),
          el('p', { class: 'msg', text: String(r.message || '') })));
      });
      body.appendChild(list);
    } else {
      body.appendChild(el('p', { class: 'empty', text: 'No reply yet.' }));
    }
  }

  // --- adding a reply -----------------------------------------------------------------

  // Adding a reply needs an access token (a JWT with the role
  // tickets.write), the operations one with the role operator. It is kept
  // for this tab only (sessionStorage), never in localStorage, and sent
  // only with the calls that need it.
  function savedToken() {
    try { return sessionStorage.getItem('vd-token') || ''; } catch (e) { return ''; }
  }

  function replyForm(id) {
    var saved = '';
    try { saved = localStorage.getItem('vd-user') || ''; } catch (e) { /* private mode */ }
    var count = el('p', { class: 'hint', id: 'reply-count', 'aria-live': 'off', text: '0 of 10,000 bytes' });
    var message = el('textarea', { id: 'reply-message', name: 'message', rows: '4', required: true,
      'aria-describedby': 'reply-count', oninput: function () {
        var n = utf8Length(this.value);
        count.textContent = n.toLocaleString('en') + ' of 10,000 bytes' + (n > MESSAGE_MAX ? ': too long' : '');
        count.className = 'hint' + (n > MESSAGE_MAX ? ' over' : '');
      } });
    var form = el('form', { id: 'reply-form', class: 'reply', 'aria-labelledby': 'reply-title', novalidate: true,
                            'data-ticket': id },
      el('h3', { id: 'reply-title', text: 'Add a reply' }),
      el('p', { class: 'field' },
        el('label', { for: 'reply-user', text: 'Your name' }),
        el('input', { id: 'reply-user', name: 'user', type: 'text', autocomplete: 'name', required: true,
                      value: saved })),
      el('p', { class: 'field' },
        el('label', { for: 'reply-message', text: 'Reply' }), message, count),
      el('p', { class: 'field token' },
        el('label', { for: 'reply-token', text: 'Access token' }),
        el('input', { id: 'reply-token', name: 'token', type: 'password', autocomplete: 'off',
                      spellcheck: 'false', 'aria-describedby': 'reply-token-hint', value: savedToken() }),
        el('span', { class: 'hint', id: 'reply-token-hint',
                     text: 'Needed to add a reply; kept in this tab only until you close it.' })),
      el('p', { class: 'actions' },
        el('button', { type: 'submit', id: 'reply-send', text: 'Send reply' }),
        el('span', { id: 'reply-result', role: 'status', class: 'result' })));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      sendReply(form);
    });
    return form;
  }

  function replyResult(text, kind) {
    var r = $('reply-result');
    if (!r) return;
    r.textContent = text;
    r.className = 'result ' + (kind || '');
  }

  function sendReply(form) {
    if (state.sending) return;       // a second click while the first is on its way
    var id = form.getAttribute('data-ticket');
    var user = $('reply-user').value.trim();
    var message = $('reply-message').value;
    // The second click of a double click may come after a quick answer
    // cleared the form: it is not a new submission.
    if (!message.trim() && Date.now() - state.sentAt < DOUBLE_CLICK_MS) return;
    if (!user || !message.trim()) {
      replyResult(!user ? 'Write your name first.' : 'Write a reply first.', 'error');
      (!user ? $('reply-user') : $('reply-message')).focus();
      return;
    }
    // One key per submission: the same text sent again (after a failure,
    // or by a second click) carries the same key and is applied once.
    var text = JSON.stringify({ ticketId: id, user: user, message: message });
    if (!state.pending || state.pending.text !== text) state.pending = { text: text, key: newKey() };
    var key = state.pending.key;
    state.sending = true;
    var button = $('reply-send');
    button.disabled = true;
    button.textContent = 'Sending…';
    replyResult('Sending your reply…', 'busy');
    alertOff('reply');
    try { localStorage.setItem('vd-user', user); } catch (e) { /* private mode */ }
    var token = $('reply-token') ? $('reply-token').value.trim() : '';
    setToken(token);
    var headers = { 'Content-Type': 'application/json', 'Idempotency-Key': key };
    if (token) headers.Authorization = 'Bearer ' + token;

    call('tickets', QUERY_VERSION, '/tickets/addComment', {
      method: 'POST',
      headers: headers,
      body: text
    }, 'add a reply').then(function (res) {
      state.sending = false;
      var b = $('reply-send');
      if (b) { b.disabled = false; b.textContent = 'Send reply'; }
      if (res.ok) {
        state.pending = null;
        state.sentAt = Date.now();
        var m = $('reply-message');
        if (m) { m.value = ''; m.dispatchEvent(new Event('input')); }
        replyResult('Your reply was added' + (res.failed.length ? ' by version ' + res.version +
          ' (' + failedText('tickets', res.failed) + ')' : '') + '.', 'ok');
        refresh(false);
        return;
      }
      var words = replyError(res, message);
      replyResult('Your reply was not added.', 'error');
      alertOn('reply', words);
    });
  }

  function replyError(res, message) {
    var b = res.body || {};
    if (res.status === 413) {
      return 'Your reply is too large to send: a request may be at most 64 KiB, and this reply is ' +
        utf8Length(message).toLocaleString('en') + ' bytes. Shorten it and send it again.';
    }
    if (res.status === 400 && /message/.test(b.detail || '') && /longer than/.test(b.detail || '')) {
      return 'Your reply is too long: a reply may be at most 10,000 bytes, and this one is ' +
        utf8Length(message).toLocaleString('en') + '. Shorten it and send it again.';
    }
    if (res.status === 404) return 'Your reply was not added: this ticket no longer exists.';
    if (res.status === 401) {
      return 'Your reply was not added: ' + ($('reply-token') && $('reply-token').value.trim() ?
        'the access token was refused (' + (b.detail || 'not valid') + ')' :
        'adding a reply needs an access token') +
        '. Paste a valid token in "Access token" and send it again.';
    }
    if (res.status === 403) {
      return 'Your reply was not added: this access token does not allow adding replies (it needs ' +
        'the role tickets.write). Paste a token that has it in "Access token" and send it again.';
    }
    if (res.status >= 400 && res.status < 500) {
      return 'Your reply was not added: ' + (b.detail || b.error || 'HTTP ' + res.status) + '.';
    }
    var outage = outageText(res, 'adding a reply');
    return 'Your reply was not added. ' + (outage || errorDetail(res)) +
      ' Sending it again is safe: it will be added once.';
  }

  // --- the live feed of latest replies ---------------------------------------------------

  function pollFeed() {
    var headers = {};
    if (state.feedEtag) headers['If-None-Match'] = state.feedEtag;
    call('replyfeed', FEED_VERSION, '/latestReplies', { headers: headers }, null).then(function (res) {
      if (!res.version) {
        $('feed-state').textContent = 'The reply feed cannot be reached (' +
          failedText('replyfeed', res.failed) + '); trying again.';
        $('feed-state').className = 'hint warn';
      } else if (res.status === 304) {
        okFeedState();
      } else if (res.ok && Array.isArray(res.body)) {
        okFeedState();
        state.feedEtag = res.headers && res.headers.get('ETag');
        var changed = renderFeed(res.body);
        // A new reply somewhere: what this view shows may have changed too.
        if (changed) refresh(false);
      }
      setTimeout(pollFeed, FEED_POLL_MS);
    });
  }

  function okFeedState() {
    var s = $('feed-state');
    s.textContent = 'Updated by itself, every second. Last checked ' + clock(new Date()) + '.';
    s.className = 'hint';
  }

  function feedKey(r) { return r.id || (r.ticketId + '|' + r.user + '|' + r.message); }

  // Draw the feed, newest first; return true when it holds a reply that was
  // not there before.
  function renderFeed(replies) {
    var first = state.feedSeen === null;
    var seen = state.feedSeen || {};
    var now = {};
    var fresh = [];
    var list = clear($('feed'));
    replies.slice().reverse().forEach(function (r) {
      var k = feedKey(r);
      now[k] = true;
      var isNew = !first && !seen[k];
      if (isNew) fresh.push(r);
      var title = String(r.title || 'a ticket');
      list.appendChild(el('li', { class: isNew ? 'new' : null, 'data-id': r.id || null },
        el('p', { class: 'who' }, el('strong', { text: String(r.user || 'someone') }), ' on ',
          isTicketId(String(r.ticketId)) ? el('a', { href: '#/tickets/' + r.ticketId, text: title }) : title),
        el('p', { class: 'msg', text: String(r.message || '') })));
    });
    if (!replies.length) list.appendChild(el('li', { class: 'empty', text: 'No reply yet.' }));
    state.feedSeen = now;
    if (fresh.length) {
      $('feed-news').textContent = plural(fresh.length, 'new reply', 'new replies') + ': latest from ' +
        String(fresh[0].user || 'someone') + '.';
    }
    return !first && fresh.length > 0;
  }

  // --- the access token ----------------------------------------------------------------------

  // One token for the tab, set in "Access token" at the top of the page (or
  // in the reply form). The page reads the roles and the expiry in its
  // payload only to decide what to offer: it holds no key and checks
  // nothing. The services check the token on every call, and what they
  // answer (401, 403) is what the page tells.
  function tokenClaims(token) {
    var part = String(token || '').split('.')[1];
    if (!part) return null;
    try {
      var b64 = part.replace(/-/g, '+').replace(/_/g, '/');
      while (b64.length % 4) b64 += '=';
      var bin = atob(b64);
      var bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      var claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
      return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
    } catch (e) {
      return null;
    }
  }

  function tokenRoles(claims) {
    return claims && Array.isArray(claims.roles) ?
      claims.roles.filter(function (r) { return typeof r === 'string'; }) : [];
  }

  function tokenExpired(claims) {
    return !!claims && typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now();
  }

  // Whether the token of the tab seems to hold ROLE (and has not expired).
  function seemsToHold(role) {
    var claims = tokenClaims(savedToken());
    return !tokenExpired(claims) && tokenRoles(claims).indexOf(role) >= 0;
  }

  function setToken(token) {
    try {
      if (token) sessionStorage.setItem('vd-token', token); else sessionStorage.removeItem('vd-token');
    } catch (e) { /* private mode */ }
    renderAccess();
  }

  // What the token seems to allow, in words; and the Operations link when
  // it seems to hold the role operator.
  function renderAccess() {
    var token = savedToken();
    var claims = tokenClaims(token);
    var roles = tokenRoles(claims);
    var words;
    if (!token) words = 'none';
    else if (!claims) words = 'one this page cannot read (the services will judge it)';
    else if (tokenExpired(claims)) words = 'expired at ' + clock(new Date(claims.exp * 1000));
    else {
      words = (roles.length ? roles.join(', ') : 'no role') +
        (typeof claims.exp === 'number' ? ', until ' + clock(new Date(claims.exp * 1000)) : '');
    }
    $('access-state').textContent = words;
    $('nav-operations').hidden = !seemsToHold('operator');
    ['access-token', 'reply-token'].forEach(function (id) {
      var field = $(id);
      if (field && field !== document.activeElement && field.value.trim() !== token) field.value = token;
    });
  }

  function startAccess() {
    var form = $('access-form');
    var field = $('access-token');
    // Done: the form folds away, and the summary says what the token allows.
    function done(words) {
      $('access-result').textContent = words;
      $('access').open = false;
      $('access').querySelector('summary').focus();
      if (route().view === 'operations') loadOps(false);
    }
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      setToken(field.value.trim());
      done(field.value.trim() ? 'Token kept for this tab: ' + $('access-state').textContent + '.' :
        'No token kept.');
    });
    $('access-forget').addEventListener('click', function () {
      field.value = '';
      setToken('');
      done('Token forgotten.');
    });
    renderAccess();
  }

  function authHeaders() {
    var token = savedToken();
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  // --- operations: subscriptions, dead letters, replay ------------------------------------

  // The tickets service's operator endpoints (role operator), read every
  // few seconds while this view is open. What is shown comes only from the
  // service's answers: a refusal (401, 403) clears the view and says why.

  function leaveOps() {
    if (route().view === 'operations') return;
    clearTimeout(state.ops.timer);
    state.ops.timer = null;
    state.ops.confirming = null;
    state.ops.refused = null;
    alertOff('ops');
  }

  // A refusal of the service, in words; null when RES is none.
  function refusalText(res, doing) {
    var b = res.body || {};
    if (res.status === 401) {
      return 'The tickets service refused ' + doing + ': ' + (savedToken() ?
        'it did not accept the access token (' + (b.detail || 'not valid') + ')' :
        'it needs an access token with the role operator') +
        '. Paste a token with the role operator in "Access token" at the top of the page.';
    }
    if (res.status === 403) {
      return 'The tickets service refused ' + doing + ': this access token does not hold the role ' +
        'operator (HTTP 403' + (b.detail ? ': ' + b.detail : '') + '). Only operators see the ' +
        'subscriptions and the dead letters.';
    }
    if (res.status === 429) {
      return 'The tickets service refused ' + doing + ': too many operator requests from this ' +
        'address for now (HTTP 429). Try again in a second.';
    }
    return null;
  }

  function loadOps(focus) {
    var ops = state.ops;
    var seq = ++ops.seq;
    clearTimeout(ops.timer);
    ops.timer = null;
    var options = function () { return { headers: authHeaders() }; };
    return Promise.all([
      call('tickets', QUERY_VERSION, '/tickets/subscriptions', options(), 'subscriptions'),
      call('tickets', QUERY_VERSION, '/tickets/deadletters', options(), 'dead letters')
    ]).then(function (both) {
      if (seq !== ops.seq || route().view !== 'operations') return;
      var subs = both[0], dead = both[1];
      var refused = refusalText(subs, 'to show the subscriptions') ||
                    refusalText(dead, 'to show the dead letters');
      var outage = outageText(subs, 'reading the subscriptions') ||
                   outageText(dead, 'reading the dead letters');
      if (refused) {
        ops.refused = refused;
        ops.subs = ops.dead = null;
        ops.confirming = null;
        alertOff('service');
        alertOn('ops', refused);
      } else if (outage) {
        alertOn('service', outage);   // what was shown stays, as it was
      } else if (!subs.ok || !dead.ok || !Array.isArray(subs.body) || !Array.isArray(dead.body)) {
        alertOn('service', 'The operations could not be read: ' + errorDetail(subs.ok ? dead : subs) + '.');
      } else {
        alertOff('service');
        alertOff('ops');
        showFallback(subs, 'the subscriptions');
        ops.refused = null;
        ops.subs = subs.body;
        ops.dead = dead.body;
      }
      keepFocus(renderOps);
      if (focus) focusHeading();
      ops.timer = setTimeout(function () { loadOps(false); }, OPS_POLL_MS);
    });
  }

  // An ISO date and time as this page writes times, in the browser's time
  // zone: the clock, and before another day's the date.
  function when(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return el('span', { text: '—' });
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    var day = d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate());
    var today = new Date().toDateString() === d.toDateString();
    return el('time', { datetime: String(iso), text: (today ? '' : day + ' ') + clock(d) });
  }

  // A subscription's state as the service reports it, and what it means.
  function subState(s) {
    var st = String(s.state || 'unknown');
    var n = typeof s.consecutiveFailures === 'number' ? s.consecutiveFailures : 0;
    var words;
    if (st === 'active') words = 'healthy: events are delivered';
    else if (st === 'failing') {
      words = 'retrying: ' + plural(n, 'failure', 'failures') + ' in a row' +
        (s.lastError ? ' (' + s.lastError + ')' : '');
    } else if (st === 'disabled') {
      words = (s.disabledReason ? s.disabledReason + ': ' : '') +
        'nothing is sent to it until its URL is subscribed again';
    } else words = 'as the service reports it';
    return el('span', null, el('span', { class: 'badge state-' + st.replace(/[^a-z]+/g, '-'), text: st }),
      ' ', el('span', { class: 'state-words', text: words }));
  }

  function renderSubs(box) {
    var subs = state.ops.subs;
    clear(box);
    if (!subs.length) {
      box.appendChild(el('p', { class: 'empty', text: 'There are no subscriptions: no event is sent anywhere.' }));
      return;
    }
    var body = el('tbody');
    subs.forEach(function (s) {
      body.appendChild(el('tr', { 'data-id': String(s.id || ''), 'data-state': String(s.state || '') },
        el('th', { scope: 'row', 'data-label': 'Subscriber', class: 'url', text: String(s.url || '') }),
        el('td', { 'data-label': 'State' }, subState(s)),
        el('td', { 'data-label': 'Last delivered' }, when(s.lastSuccess)),
        el('td', { 'data-label': 'Last failure' }, when(s.lastFailure)),
        el('td', { 'data-label': 'Dead letters', class: 'count', text: String(s.deadLetters || 0) })));
    });
    box.appendChild(el('table', { class: 'ops', 'aria-labelledby': 'subs-title' },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: 'Subscriber' }),
        el('th', { scope: 'col', text: 'State' }),
        el('th', { scope: 'col', text: 'Last delivered' }),
        el('th', { scope: 'col', text: 'Last failure' }),
        el('th', { scope: 'col', class: 'count', text: 'Dead letters' }))),
      body));
  }

  function deadKey(d) { return String(d.eventId) + '|' + String(d.subscription); }
  function domKey(d) { return deadKey(d).replace(/[^A-Za-z0-9_-]/g, '-'); }

  // What can be done with a dead letter: a replay, unless its
  // subscription is disabled or gone (the service would queue it for
  // nobody).
  function deadAction(d) {
    var ops = state.ops;
    var key = deadKey(d), id = domKey(d);
    var sub = ops.subs.filter(function (s) { return s.id === d.subscription; })[0];
    if (!sub) return el('span', { class: 'hint', text: 'Its subscription is gone: nothing to replay to.' });
    if (sub.state === 'disabled') {
      return el('span', { class: 'hint', text: 'Its subscription is disabled: subscribe its URL again, then replay.' });
    }
    if (ops.replaying[key]) {
      return el('button', { type: 'button', id: 'replay-' + id, disabled: true, text: 'Replaying…' });
    }
    if (ops.confirming === key) {
      return el('span', { class: 'confirm', role: 'group', 'aria-labelledby': 'confirm-q-' + id,
                          onkeydown: function (ev) { if (ev.key === 'Escape') cancelReplay(d); } },
        el('span', { id: 'confirm-q-' + id, class: 'question', text: 'Send this event again to ' + d.url + '?' }),
        el('button', { type: 'button', id: 'replay-yes-' + id, onclick: function () { replay(d); },
                       text: 'Yes, replay' }),
        el('button', { type: 'button', id: 'replay-no-' + id, class: 'quiet',
                       onclick: function () { cancelReplay(d); }, text: 'Cancel' }));
    }
    return el('button', { type: 'button', id: 'replay-' + id, 'aria-label': 'Replay event ' + d.eventId + ' to ' + d.url,
                          onclick: function () { askReplay(d); }, text: 'Replay' });
  }

  function renderDead(box) {
    var dead = state.ops.dead;
    clear(box);
    if (!dead.length) {
      box.appendChild(el('p', { class: 'empty', text: 'No dead letters: every event reached its subscribers or is still being retried.' }));
      return;
    }
    var body = el('tbody');
    dead.slice(0, DEAD_SHOWN).forEach(function (d) {
      body.appendChild(el('tr', { 'data-event': String(d.eventId), 'data-subscription': String(d.subscription) },
        el('th', { scope: 'row', 'data-label': 'Event', class: 'url' }, el('code', { text: String(d.eventId) })),
        el('td', { 'data-label': 'Subscriber', class: 'url', text: String(d.url || '') }),
        el('td', { 'data-label': 'Why', text: String(d.reason || 'HTTP ' + d.lastStatus) }),
        el('td', { 'data-label': 'Attempts', class: 'count', text: String(d.attempts || 0) }),
        el('td', { 'data-label': 'Given up' }, when(d.at)),
        el('td', { 'data-label': 'Replay', class: 'action' }, deadAction(d))));
    });
    box.appendChild(el('table', { class: 'ops', 'aria-labelledby': 'dead-title', 'aria-describedby': 'dead-count' },
      el('thead', null, el('tr', null,
        el('th', { scope: 'col', text: 'Event' }),
        el('th', { scope: 'col', text: 'Subscriber' }),
        el('th', { scope: 'col', text: 'Why' }),
        el('th', { scope: 'col', class: 'count', text: 'Attempts' }),
        el('th', { scope: 'col', text: 'Given up' }),
        el('th', { scope: 'col', text: 'Replay' }))),
      body));
  }

  function renderOps() {
    var ops = state.ops;
    var view = $('view');
    if (!$('ops-subs')) {
      clear(view);
      view.removeAttribute('data-ticket');
      view.appendChild(el('h2', { tabindex: '-1', id: 'ops-title', text: 'Operations' }));
      view.appendChild(el('p', { class: 'hint', text: 'The subscriptions to reply events and the events that ' +
        'could not be delivered, as the tickets service reports them to operators; read again every ' +
        OPS_POLL_MS / 1000 + ' seconds.' }));
      view.appendChild(el('p', { id: 'ops-refused', class: 'empty' }));
      view.appendChild(el('section', { 'aria-labelledby': 'subs-title', id: 'ops-subs-section' },
        el('h3', { id: 'subs-title', text: 'Subscriptions' }), el('div', { id: 'ops-subs' })));
      view.appendChild(el('section', { 'aria-labelledby': 'dead-title', id: 'ops-dead-section' },
        el('h3', { id: 'dead-title', tabindex: '-1', text: 'Dead letters' }),
        el('p', { class: 'hint', id: 'dead-count' }),
        el('p', { id: 'ops-result', role: 'status', class: 'result' }),
        el('div', { id: 'ops-dead' })));
    }
    $('ops-refused').textContent = ops.refused || !ops.subs ?
      'The subscriptions and the dead letters are not shown (see the message above).' : '';
    $('ops-subs-section').hidden = !ops.subs;
    $('ops-dead-section').hidden = !ops.dead;
    if (ops.subs) renderSubs($('ops-subs'));
    if (ops.dead) {
      renderDead($('ops-dead'));
      $('dead-count').textContent = ops.dead.length > DEAD_SHOWN ?
        'The ' + DEAD_SHOWN + ' newest of ' + ops.dead.length + (ops.dead.length >= 1000 ? ' or more' : '') + '.' :
        'Events given up after the whole retry schedule, or refused for good (410), newest first. ' +
        'A replay sends one again; it leaves this list once delivered.';
    }
    var r = $('ops-result');
    r.textContent = ops.result ? ops.result.text : '';
    r.className = 'result ' + (ops.result ? ops.result.kind : '');
  }

  // Redraw, and when the control that had the focus is gone (a replayed
  // letter left the list), give it to the dead letters' heading.
  function redrawOps(focusId) {
    keepFocus(renderOps);
    var f = focusId && $(focusId);
    if (f) f.focus();
    else if (document.activeElement === document.body && $('dead-title')) $('dead-title').focus();
  }

  function askReplay(d) {
    state.ops.confirming = deadKey(d);
    state.ops.confirmAt = Date.now();
    redrawOps('replay-yes-' + domKey(d));
  }

  function cancelReplay(d) {
    state.ops.confirming = null;
    redrawOps('replay-' + domKey(d));
  }

  function replayError(res) {
    var b = res.body || {};
    var refused = refusalText(res, 'the replay');
    if (refused) return refused;
    if (res.status === 409 && b.error === 'subscription disabled') {
      return 'Not replayed: its subscription is disabled or gone. Once its URL is subscribed ' +
        'again, press Replay again.';
    }
    if (res.status === 409) {
      return 'Not replayed: ' + (/no dead letter/.test(b.detail || '') ?
        'it is no dead letter any more (delivered, or replayed already).' : (b.detail || b.error) + '.');
    }
    if (res.status === 404) return 'Not replayed: the tickets service knows no such event.';
    var outage = outageText(res, 'a replay');
    return 'Not replayed. ' + (outage || errorDetail(res) + '.');
  }

  // One request per confirmed click: the button is gone while it is on
  // its way, and a replay goes to another version only when the first was
  // not reached (a replay sent twice would only send the event twice,
  // which subscribers drop by its id, but the page sends it once).
  function replay(d) {
    var ops = state.ops;
    var key = deadKey(d);
    if (ops.replaying[key] || Date.now() - ops.confirmAt < CONFIRM_GUARD_MS) return;
    ops.replaying[key] = true;
    ops.confirming = null;
    ops.result = { text: 'Replaying event ' + d.eventId + '…', kind: 'busy' };
    redrawOps('replay-' + domKey(d));
    var headers = authHeaders();
    headers['Content-Type'] = 'application/json';
    call('tickets', QUERY_VERSION, '/tickets/events/' + encodeURIComponent(d.eventId) + '/replay',
         { method: 'POST', headers: headers, body: '{}' }, 'replay ' + d.eventId, true)
      .then(function (res) {
        delete ops.replaying[key];
        if (res.ok) {
          var to = res.body && Array.isArray(res.body.subscriptions) ? res.body.subscriptions.length : 1;
          ops.result = { kind: 'ok', text: 'Event ' + d.eventId + ' was queued again for ' +
            plural(to, 'subscription', 'subscriptions') + ' (' + d.url + ') by version ' + res.version +
            '. It leaves the list once delivered; should it fail again, it comes back.' };
        } else {
          ops.result = { kind: 'error', text: replayError(res) };
        }
        if (route().view !== 'operations') return;
        redrawOps('replay-' + domKey(d));
        loadOps(false);
      });
  }

  // --- versions and their health -----------------------------------------------------------

  function loadVersions() {
    return fetchWithTimeout('/index.json', { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (j && j.versions && typeof j.versions === 'object') state.versions = j.versions;
      }, function () { /* keep the defaults: the page still works */ });
  }

  // The registry as the tickets service lists it (GET .../registry, with
  // the queries' fallback; not listed in the page's calls: it is polled).
  // Resolves to {entries, staleAfter} or {why: the reason, in words}.
  function loadRegistry() {
    return call('tickets', QUERY_VERSION, '/registry').then(function (res) {
      if (res.ok && res.body && Array.isArray(res.body.entries)) return res.body;
      if (res.failed.some(function (f) { return f.status === 503; }) || res.status === 503) {
        return { why: 'the registry database is unavailable' };
      }
      if (res.version) return { why: 'the tickets service answered HTTP ' + res.status };
      if (res.tried.length === 0) return { why: 'no version of the tickets service is deployed' };
      return { why: failedText('tickets', res.failed) };
    });
  }

  function age(s) {
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.floor(s / 60) + ' min';
    return Math.floor(s / 3600) + ' h';
  }

  // One row per service version and host: the responder (and version) is
  // read from the entry's path, /NAME/vX.Y.Z/..., which nginx routes, so
  // that its /health can be asked; an entry of another shape stands alone
  // under its registered name. Deployed versions (/index.json) that are not
  // registered get a row of their own.
  function registryRows(reg) {
    var rows = {}, hosts = {};
    reg.entries.forEach(function (e) {
      var m = /^\/([a-z][a-z0-9-]*)\/v([^/]+)\//.exec(e.url || '');
      var name = m && m[2] === e.version ? m[1] : e.name;
      var key = name + ' ' + e.version + ' ' + e.host;
      var row = rows[key] || (rows[key] = { name: name, version: e.version, host: e.host,
                                            routed: !!m && m[2] === e.version,
                                            names: [], ago: null, stale: true });
      row.names.push(e.name);
      if (e.lastSeenAgo !== null && (row.ago === null || e.lastSeenAgo < row.ago)) row.ago = e.lastSeenAgo;
      row.stale = row.stale && e.stale;
      if (e.host) hosts[e.host] = true;
    });
    var list = Object.keys(rows).map(function (k) { return rows[k]; });
    Object.keys(state.versions).forEach(function (name) {
      state.versions[name].forEach(function (v) {
        var known = list.some(function (r) { return r.name === name && r.version === v; });
        if (!known) list.push({ name: name, version: v, host: '', routed: true, names: [], unregistered: true });
      });
    });
    // This page's nginx reaches one host's responders: the host that is
    // this page's origin, or the only one there is.
    var only = Object.keys(hosts).length === 1;
    list.forEach(function (r) {
      r.local = r.routed && (r.unregistered || r.host === location.origin || only);
    });
    list.sort(function (a, b) {
      return a.name < b.name ? -1 : a.name > b.name ? 1 :
        compareVersions(b.version, a.version) || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
    });
    return list;
  }

  // What this page's nginx says of NAME VERSION's /health: [class, words].
  function health(name, version) {
    return fetchWithTimeout('/' + name + '/v' + version + '/health', { cache: 'no-store' })
      .then(function (r) {
        return r.text().then(function (text) {
          var b = null;
          try { b = JSON.parse(text); } catch (e) { /* not JSON: said below */ }
          if (r.status === 200) return ['ok', 'healthy'];
          if (r.status === 503 && b && b.database === 'unavailable') return ['bad', 'running, database unavailable'];
          if (r.status === 502) return ['down', 'not running'];
          if (r.status === 404) return ['down', 'not deployed'];
          return ['bad', 'unhealthy (HTTP ' + r.status + ')'];
        });
      }, function () { return ['down', 'unreachable']; });
  }

  // A row's health: its /health when this page can ask it, and its
  // heartbeat in the registry (an entry not seen for staleAfter seconds
  // is skipped by calls).
  function rowHealth(row, staleAfter) {
    var asked = row.local ? health(row.name, row.version) : Promise.resolve(null);
    return asked.then(function (h) {
      if (!row.registry) return h;
      if (row.unregistered) {
        return h[0] === 'ok' ? ['bad', 'running, but not in the registry: calls do not find it'] : h;
      }
      if (row.stale) {
        var why = 'not seen in the registry for ' + (row.ago === null ? 'ever' : age(row.ago)) +
          ' (over ' + staleAfter + ' s): calls skip it';
        if (!h) return ['down', why];
        return h[0] === 'ok' ? ['bad', 'running, but ' + why] : [h[0], h[1] + '; ' + why];
      }
      return h || ['ok', 'in the registry (its health is asked on its own host)'];
    }).then(function (h) { row.kind = h[0]; row.text = h[1]; return row; });
  }

  // The host and heartbeat of a row, below its service's name (the panel
  // is narrow): without its scheme when it is http, whole in its title.
  function hostLine(row) {
    if (!row.registry) return null;
    if (row.unregistered) return el('span', { class: 'host', text: 'not registered' });
    return el('span', { class: 'host', title: row.host || null },
      el('span', { class: 'origin', text: row.host ? row.host.replace(/^http:\/\//, '') : '(no URL)' }), ' ',
      el('span', { class: 'seen', text: row.ago === null ? 'never seen' : 'seen ' + age(row.ago) + ' ago' }));
  }

  function pollHealth() {
    loadRegistry().then(function (reg) {
      var rows = [];
      if (reg.entries) {
        rows = registryRows(reg);
        rows.forEach(function (r) { r.registry = true; });
      } else {
        Object.keys(state.versions).sort().forEach(function (name) {
          state.versions[name].forEach(function (v) { rows.push({ name: name, version: v, local: true }); });
        });
      }
      return Promise.all(rows.map(function (row) { return rowHealth(row, reg.staleAfter); }))
        .then(function (done) { return [reg, done]; });
    }).then(function (both) {
      var reg = both[0];
      var body = clear($('versions'));
      both[1].forEach(function (row) {
        body.appendChild(el('tr', { 'data-service': row.name, 'data-version': row.version,
                                    'data-host': row.host || '', class: row.kind },
          el('th', { scope: 'row', title: row.names && row.names.length ? row.names.join(', ') : null },
            el('span', { class: 'name', text: row.name }), hostLine(row)),
          el('td', { text: row.version }),
          el('td', null, el('span', { class: 'dot', 'aria-hidden': 'true' }), ' ', row.text)));
      });
      var source = clear($('versions-source'));
      if (reg.entries) {
        source.appendChild(document.createTextNode('The versions in the registry, each with its host and ' +
          'its last heartbeat (an entry not seen for ' + reg.staleAfter + ' s is skipped by calls); ' +
          'this host\'s versions are also asked for their health.'));
      } else {
        source.appendChild(document.createTextNode('The registry cannot be read (' + reg.why + '), so this ' +
          'shows the versions nginx routes to ('));
        source.appendChild(el('a', { href: '/index.json', text: '/index.json' }));
        source.appendChild(document.createTextNode('), each asked for its health.'));
      }
      $('versions-state').textContent = 'Checked ' + clock(new Date()) + ', every ' + HEALTH_POLL_MS / 1000 + ' seconds.';
      setTimeout(pollHealth, HEALTH_POLL_MS);
    });
  }

  // --- start ----------------------------------------------------------------------------------

  function refreshEvery() {
    setTimeout(function () {
      var r = refresh(false);
      (r && r.then ? r : Promise.resolve()).then(refreshEvery);
    }, VIEW_REFRESH_MS);
  }

  function start() {
    window.addEventListener('hashchange', function () {
      alertOff('reply');
      renderAccess();   // the token may have changed in another view's field
      leaveOps();
      refresh(true);
    });
    startAccess();
    loadVersions().then(function () {
      refresh(false);
      refreshEvery();
      pollFeed();
      pollHealth();
    });
  }

  // Anything unexpected is said on the page rather than leaving it blank.
  window.addEventListener('unhandledrejection', function (ev) {
    alertOn('page', 'Something went wrong in this page: ' + (ev.reason && ev.reason.message || ev.reason) +
      '. Reload the page to try again.');
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
