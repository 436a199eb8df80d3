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
    pending: null           // {text, key}: the reply being sent, and its key
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
  function call(name, want, path, options, log) {
    var list = candidates(name, want);
    var failed = [];
    function next(i) {
      if (i >= list.length) {
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
  // tickets.write). It is kept for this tab only (sessionStorage), never
  // in localStorage, and sent only with the reply.
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
    try {
      if (token) sessionStorage.setItem('vd-token', token); else sessionStorage.removeItem('vd-token');
    } catch (e) { /* private mode */ }
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

  // --- versions and their health -----------------------------------------------------------

  function loadVersions() {
    return fetchWithTimeout('/index.json', { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (j && j.versions && typeof j.versions === 'object') state.versions = j.versions;
      }, function () { /* keep the defaults: the page still works */ });
  }

  function pollHealth() {
    var rows = [];
    Object.keys(state.versions).sort().forEach(function (name) {
      state.versions[name].forEach(function (v) { rows.push({ name: name, version: v }); });
    });
    Promise.all(rows.map(function (row) {
      return fetchWithTimeout('/' + row.name + '/v' + row.version + '/health', { cache: 'no-store' })
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
        }, function () { return ['down', 'unreachable']; })
        .then(function (h) { row.kind = h[0]; row.text = h[1]; return row; });
    })).then(function (done) {
      var body = clear($('versions'));
      done.forEach(function (row) {
        body.appendChild(el('tr', { 'data-service': row.name, 'data-version': row.version, class: row.kind },
          el('td', { text: row.name }),
          el('td', { text: row.version }),
          el('td', null, el('span', { class: 'dot', 'aria-hidden': 'true' }), ' ', row.text)));
      });
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
      refresh(true);
    });
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
