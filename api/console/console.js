/*
 * meterflow analyst console. Plain browser script, no build step, no framework.
 *
 * Rules this file keeps:
 *  - every request goes to the public /v1 API with the key in the Authorization header; the key is
 *    never put in a URL, and is kept in sessionStorage (this tab only) until "Sign out";
 *  - every value from the API reaches the page through textContent (never innerHTML), so it is
 *    shown as text whatever it contains;
 *  - amounts are shown as the API's exact decimal text; only the chart converts them to numbers,
 *    to draw lines.
 */
(function () {
  'use strict';

  var KEY_STORAGE = 'meterflow.console.key';
  var REVISION_STATES = ['collecting', 'pending', 'published', 'superseded', 'unreconciled', 'failed'];
  var CHART_SERIES = 8;
  var COLORS = [
    '#1f77b4',
    '#ff7f0e',
    '#2ca02c',
    '#d62728',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#7f7f7f',
    '#bcbd22',
  ];

  var $ = function (id) {
    return document.getElementById(id);
  };
  var chart = null;
  var compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 3 });
  var lastBreakdown = null;
  /** The range the customer list was read for: a new range can have other customers. */
  var customersRange = null;

  function key() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  /** An Error carrying the API's status and error message. */
  function ApiFailure(status, message) {
    var err = new Error(message);
    err.status = status;
    return err;
  }

  /** GET a /v1 route; params go in the query string, the key only in the header. */
  async function api(path, params) {
    var query = params ? '?' + new URLSearchParams(params).toString() : '';
    var res = await fetch(path + query, {
      headers: { authorization: 'Bearer ' + key(), accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    var body = null;
    try {
      body = await res.json();
    } catch {
      // Not JSON (a proxy's error page, say): the status alone says what went wrong.
    }
    if (!res.ok) {
      var message = body && body.error && body.error.message ? body.error.message : 'HTTP ' + res.status;
      throw ApiFailure(res.status, message);
    }
    return body;
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    var tr = document.createElement('tr');
    cells.forEach(function (c) {
      tr.appendChild(c);
    });
    return tr;
  }

  function fill(tbody, rows, columns) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      var td = el('td', 'none', 'none');
      td.colSpan = columns;
      tbody.appendChild(row([td]));
      return;
    }
    rows.forEach(function (r) {
      tbody.appendChild(r);
    });
  }

  function showError(message) {
    var box = $('error');
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error').textContent = '';
  }

  function cloudText(list) {
    if (!list || list.length === 0) return '0';
    return list
      .map(function (c) {
        return c.amount + ' ' + c.currency;
      })
      .join(', ');
  }

  /** One table row of a breakdown group or total; cost columns only when the API sent them. */
  function amountCells(r, withCost) {
    var cells = [el('td', r.currency), el('td', r.amount, 'num amount'), el('td', r.record_count, 'num')];
    if (withCost) {
      cells.push(el('td', cloudText(r.cloud_cost), 'num cloud-cost'));
      cells.push(el('td', r.margin === null ? 'n/a (mixed currencies)' : r.margin, 'num margin'));
    }
    return cells;
  }

  function header(thead, names) {
    thead.replaceChildren(
      row(
        names.map(function (n) {
          return el('th', n[0], n[1]);
        }),
      ),
    );
  }

  function renderTables(data) {
    var withCost = data.includes_cost === true;
    var cost = withCost
      ? [
          ['cloud cost', 'num'],
          ['margin', 'num'],
        ]
      : [];
    header($('totals').tHead, [['currency'], ['rated cost', 'num'], ['records', 'num']].concat(cost));
    fill(
      $('totals').tBodies[0],
      data.totals.map(function (t) {
        var tr = row(amountCells(t, withCost));
        tr.dataset.currency = t.currency;
        return tr;
      }),
      3 + cost.length,
    );
    var keyName = data.by === 'tag' ? 'tag ' + data.tag_key : data.by;
    header(
      $('groups').tHead,
      [[keyName], ['currency'], ['rated cost', 'num'], ['records', 'num']].concat(cost),
    );
    fill(
      $('groups').tBodies[0],
      data.groups.map(function (g) {
        var keyCell = g.key === null ? el('td', '(none)', 'none') : el('td', g.key);
        return row([keyCell].concat(amountCells(g, withCost)));
      }),
      4 + cost.length,
    );
    $('usage-meta').textContent =
      data.record_count +
      ' published records from ' +
      data.from +
      ' to ' +
      data.to +
      ' (exclusive), ' +
      data.unrated_record_count +
      ' not priced' +
      (data.customer === null ? ', every customer' : ', customer ' + data.customer);
  }

  function dayToSeconds(day) {
    return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / 1000;
  }

  /** A line per key (the largest CHART_SERIES keys, the rest as "other") in one currency. */
  function renderChart(data) {
    var currencies = data.totals.map(function (t) {
      return t.currency;
    });
    // The currency the user picked, else the one most records are rated in.
    var busiest = data.totals.slice().sort(function (a, b) {
      return b.record_count - a.record_count;
    })[0];
    var select = $('currency');
    var chosen =
      select.value && currencies.indexOf(select.value) >= 0
        ? select.value
        : busiest
          ? busiest.currency
          : undefined;
    select.replaceChildren();
    currencies.forEach(function (c) {
      var o = el('option', c);
      o.value = c;
      select.appendChild(o);
    });
    if (chosen) select.value = chosen;
    $('currency-label').hidden = currencies.length < 2;
    if (chart) {
      chart.destroy();
      chart = null;
    }
    $('chart').replaceChildren();
    if (!chosen) {
      $('chart').appendChild(el('p', 'No rated usage in this range.', 'none'));
      return;
    }
    // Floats from here on: the chart draws, the tables show the exact text.
    var byKey = new Map();
    data.groups.forEach(function (g) {
      if (g.currency === chosen) byKey.set(g.key, Number(g.amount));
    });
    var ranked = Array.from(byKey.keys()).sort(function (a, b) {
      return byKey.get(b) - byKey.get(a);
    });
    var shown = ranked.slice(0, CHART_SERIES);
    var label = function (k) {
      return k === null ? '(none)' : k;
    };
    var names = shown.map(label);
    var other = ranked.length > shown.length;
    if (other) names.push('other');
    var from = dayToSeconds(data.from);
    var to = dayToSeconds(data.to);
    var xs = [];
    for (var t = from; t < to; t += 86400) xs.push(t);
    var ys = names.map(function () {
      return xs.map(function () {
        return 0;
      });
    });
    data.series.forEach(function (s) {
      if (s.currency !== chosen) return;
      var i = shown.indexOf(s.key);
      if (i < 0) i = names.length - 1;
      var x = (dayToSeconds(s.day) - from) / 86400;
      ys[i][x] += Number(s.amount);
    });
    var width = Math.min(1100, document.body.clientWidth - 20);
    chart = new uPlot(
      {
        width: width,
        height: 320,
        scales: { x: { time: true } },
        series: [{ label: 'day' }].concat(
          names.map(function (n, i) {
            return { label: n, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false } };
          }),
        ),
        axes: [
          {},
          {
            label: 'rated cost (' + chosen + ')',
            size: 70,
            // Axis ticks only (compact, 1.2E16 as 12Q): every amount in the tables is exact text.
            values: function (_u, ticks) {
              return ticks.map(function (v) {
                return compact.format(v);
              });
            },
          },
        ],
      },
      [xs].concat(ys),
      $('chart'),
    );
  }

  async function loadCustomers() {
    var range = $('from').value + '/' + $('to').value;
    if (customersRange === range) return;
    var data = await api('/v1/usage/breakdown', { from: $('from').value, to: $('to').value, by: 'customer' });
    var select = $('customer');
    var selected = select.value;
    resetCustomers();
    var seen = new Set();
    data.groups.forEach(function (g) {
      if (g.key === null || seen.has(g.key)) return;
      seen.add(g.key);
      var o = el('option', g.key);
      o.value = g.key;
      select.appendChild(o);
    });
    if (seen.has(selected)) select.value = selected;
    customersRange = range;
  }

  function resetCustomers() {
    var all = el('option', 'all customers');
    all.value = '';
    $('customer').replaceChildren(all);
  }

  async function loadOps() {
    var counts = await Promise.all(
      REVISION_STATES.map(function (state) {
        return api('/v1/revisions', { state: state, limit: '1' });
      }),
    );
    fill(
      $('revision-states').tBodies[0],
      REVISION_STATES.map(function (state, i) {
        var tr = row([el('td', state), el('td', counts[i].total, 'num')]);
        tr.dataset.state = state;
        return tr;
      }),
      2,
    );
    var latest = await api('/v1/revisions', { limit: '20' });
    fill(
      $('revisions').tBodies[0],
      latest.revisions.map(function (r) {
        return row([
          el('td', r.scope),
          el('td', r.revision_id),
          el('td', r.billing_period),
          el('td', r.state),
          el('td', r.updated_at),
          el('td', r.problems.join('; ')),
        ]);
      }),
      6,
    );
    var dead = await api('/v1/dead-letters/summary');
    $('dead-letter-total').textContent = dead.total + ' dead letters in all';
    fill(
      $('dead-letters').tBodies[0],
      dead.by_reason.map(function (r) {
        var tr = row([
          el('td', r.reason),
          el('td', r.count, 'num'),
          el(
            'td',
            r.by_stage
              .map(function (s) {
                return s.stage + ': ' + s.count;
              })
              .join(', '),
          ),
        ]);
        tr.dataset.reason = r.reason;
        return tr;
      }),
      3,
    );
  }

  async function loadInvoices(customer) {
    var tbody = $('invoices').tBodies[0];
    if (!customer) {
      $('invoice-meta').textContent = 'Choose a customer to list its invoices.';
      fill(tbody, [], 6);
      return;
    }
    var data = await api('/v1/customers/' + encodeURIComponent(customer) + '/invoices');
    $('invoice-meta').textContent = 'Invoices of ' + data.customer + ', newest period first.';
    fill(
      tbody,
      data.invoices.map(function (i) {
        var tr = row([
          el('td', i.invoice_id),
          el('td', i.number === null ? '' : i.number),
          el('td', i.period),
          el('td', i.status),
          el('td', i.currency),
          el('td', i.total, 'num amount'),
        ]);
        tr.dataset.invoice = i.invoice_id;
        return tr;
      }),
      6,
    );
  }

  function breakdownParams() {
    var params = { from: $('from').value, to: $('to').value, by: $('by').value };
    if (params.by === 'tag') params.tag_key = $('tag-key').value.trim();
    if (!$('customer-label').hidden && $('customer').value) params.customer = $('customer').value;
    return params;
  }

  async function load() {
    clearError();
    var data;
    try {
      data = await api('/v1/usage/breakdown', breakdownParams());
    } catch (err) {
      // A wrong key (401), or one that reads no usage at all (403, a metrics key): signed out.
      if (err.status === 401 || err.status === 403) {
        signOut();
        showError('Sign-in failed: ' + err.message);
        return;
      }
      showError('Usage could not be loaded: ' + err.message);
      return;
    }
    var admin = data.includes_cost === true;
    $('sign-in').hidden = true;
    $('sign-out').hidden = false;
    $('app').hidden = false;
    $('who').textContent = admin ? 'admin key: every customer' : 'customer key: ' + data.customer;
    $('customer-label').hidden = !admin;
    $('ops').hidden = !admin;
    lastBreakdown = data;
    renderTables(data);
    renderChart(data);
    try {
      if (admin) {
        await loadCustomers();
        await loadOps();
      }
      await loadInvoices(admin ? $('customer').value : data.customer);
    } catch (err) {
      showError('Could not load everything: ' + err.message);
    }
    // How many loads finished: lets a test (or a user script) wait for the page to settle.
    document.body.dataset.loads = String(Number(document.body.dataset.loads || '0') + 1);
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
    customersRange = null;
    lastBreakdown = null;
    if (chart) {
      chart.destroy();
      chart = null;
    }
    $('app').hidden = true;
    $('sign-in').hidden = false;
    $('sign-out').hidden = true;
    $('who').textContent = '';
    resetCustomers();
  }

  function isoDay(d) {
    return d.toISOString().slice(0, 10);
  }

  function init() {
    var now = new Date();
    // The last three calendar months, this one included (within the API's default 366-day limit).
    $('from').value = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1)));
    $('to').value = isoDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));
    $('sign-in').addEventListener('submit', function (e) {
      e.preventDefault();
      var value = $('api-key').value.trim();
      $('api-key').value = '';
      if (!value) return;
      sessionStorage.setItem(KEY_STORAGE, value);
      load();
    });
    $('sign-out').addEventListener('click', signOut);
    $('filters').addEventListener('submit', function (e) {
      e.preventDefault();
      load();
    });
    $('by').addEventListener('change', function () {
      $('tag-key-label').hidden = $('by').value !== 'tag';
    });
    $('currency').addEventListener('change', function () {
      if (lastBreakdown) renderChart(lastBreakdown);
    });
    if (key()) load();
  }

  init();
})();
