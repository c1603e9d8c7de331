/* report_html.js - draws leakscope's HTML report (report_html.c embeds
 * it) from the JSON in the leakscope-data element: a header, a chart of
 * outstanding bytes over the run, a flame graph (an icicle: callers on
 * top), a table of stacks.
 *
 * Names come from the traced process and can hold anything: they reach
 * the DOM only as text (textContent, attribute values), never as markup.
 * No library, no network. */
(function () {
	"use strict";

	var CLASSES = ["growing", "plateau", "old", "churn", "unknown"];
	var HUE = { growing: [0, 75], plateau: [35, 90], old: [270, 45], churn: [170, 50], unknown: [0, 0] };
	var TOP_SERIES = 10;	/* stacks drawn in the chart */
	var ROW_PX = 18;	/* a flame graph row */
	var SVGNS = "http://www.w3.org/2000/svg";

	var data, app, tooltip;

	/* --- DOM and formatting helpers --- */

	function el(tag, attrs) {
		var e = document.createElement(tag);
		setAttrs(e, attrs);
		for (var i = 2; i < arguments.length; i++)
			append(e, arguments[i]);
		return e;
	}

	function svg(tag, attrs) {
		var e = document.createElementNS(SVGNS, tag);
		setAttrs(e, attrs);
		return e;
	}

	function setAttrs(e, attrs) {
		for (var k in attrs || {}) {
			if (k === "text")
				e.textContent = attrs[k];
			else if (attrs[k] !== null && attrs[k] !== undefined)
				e.setAttribute(k, attrs[k]);
		}
	}

	function append(e, c) {
		if (c === null || c === undefined)
			return;
		if (Array.isArray(c))
			c.forEach(function (x) { append(e, x); });
		else
			e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
	}

	var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

	function byteUnit(max) {
		var u = 0;
		while (u < UNITS.length - 1 && Math.abs(max) >= 1024 * Math.pow(1024, u))
			u++;
		return u;
	}

	function fmtBytes(n) {
		if (n === null || n === undefined)
			return "-";
		var u = byteUnit(n), v = n / Math.pow(1024, u);
		return (u === 0 ? String(Math.round(v)) : v.toFixed(Math.abs(v) < 10 ? 2 : 1)) + " " + UNITS[u];
	}

	function fmtRate(r) {
		if (r === null || r === undefined)
			return "-";
		return (r > 0 ? "+" : "") + fmtBytes(r) + "/s";
	}

	function fmtCount(n) {
		return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US");
	}

	function fmtDuration(s) {
		if (s === null || s === undefined || !isFinite(s))
			return "-";
		if (s < 60)
			return (s < 10 ? s.toFixed(1) : Math.round(s)) + " s";
		if (s < 3600)
			return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
		if (s < 86400)
			return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
		return Math.floor(s / 86400) + " d " + Math.round((s % 86400) / 3600) + " h";
	}

	function fmtTime(epoch) {
		if (!epoch)
			return "-";
		return new Date(epoch * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
	}

	function pct(part, whole) {
		return whole > 0 ? (100 * part / whole).toFixed(1) + "%" : "-";
	}

	function basename(p) {
		return p ? p.slice(p.lastIndexOf("/") + 1) : p;
	}

	/* How a frame is named: Python as "function (file:line)", native as
	 * its function, else [module], else ?? */
	function frameLabel(f) {
		if (f.python)
			return (f.function || "??") + " (" + (basename(f.file) || "?") + ":" + (f.line || "?") + ")";
		if (f.function)
			return f.function;
		return f.module ? "[" + basename(f.module) + "]" : "??";
	}

	/* Where a frame is: the module of a native frame, its source line */
	function frameWhere(f) {
		var parts = [];
		if (f.python)
			parts.push((f.file || "?") + ":" + (f.line || "?"));
		else {
			if (f.module)
				parts.push(f.module);
			if (f.file)
				parts.push(f.file + (f.line ? ":" + f.line : ""));
		}
		if (f.inlined)
			parts.push("inlined");
		return parts.join("  ");
	}

	function frameKey(f) {
		return [f.python ? "py" : "c", f.function, f.module, f.python ? f.file : "",
			f.python ? f.line : ""].join("\u0000");
	}

	/* A colour of class cls, its lightness varied by name so that
	 * neighbours differ. */
	function classColour(cls, name) {
		var h = HUE[cls] || HUE.unknown, hash = 0;
		for (var i = 0; i < name.length; i++)
			hash = (hash * 31 + name.charCodeAt(i)) | 0;
		var l = 62 + (Math.abs(hash) % 17);
		return "hsl(" + h[0] + "," + h[1] + "%," + l + "%)";
	}

	function seriesColour(cls, rank) {
		var h = HUE[cls] || HUE.unknown;
		return "hsl(" + h[0] + "," + h[1] + "%," + (38 + (rank * 9) % 32) + "%)";
	}

	/* Where the program allocated: the stack's site frame, chosen by
	 * leakscope (report/site.c: its first Python frame, else its first
	 * named frame outside the allocator's libraries ...) and given as an
	 * index into frames, null when the stack has none. */
	function siteLabel(s) {
		var f = s.site === null || s.site === undefined ? null : s.frames[s.site];
		if (!f)
			return s.stack_lost ? "[stack lost]" : "??";
		return frameLabel(f);
	}

	function classBadge(cls) {
		return el("span", { "class": "badge", style: "--c: var(--" + cls + ")", text: cls });
	}

	/* --- tooltip --- */

	function showTip(ev, title, lines) {
		tooltip.textContent = "";
		append(tooltip, el("b", { text: title }));
		lines.forEach(function (l) { if (l) append(tooltip, el("div", { text: l })); });
		tooltip.style.display = "block";
		var x = ev.clientX + 14, y = ev.clientY + 14;
		var w = tooltip.offsetWidth, h = tooltip.offsetHeight;
		if (x + w > window.innerWidth - 4)
			x = Math.max(4, ev.clientX - w - 14);
		if (y + h > window.innerHeight - 4)
			y = Math.max(4, ev.clientY - h - 14);
		tooltip.style.left = x + "px";
		tooltip.style.top = y + "px";
	}

	function hideTip() {
		tooltip.style.display = "none";
	}

	/* --- header --- */

	function renderSummary() {
		var t = data.totals, rows = [];
		var title = data.multi ? data.processes.length + " processes" :
			(data.comm || "?") + " (pid " + data.pid + ")";

		document.title = "leakscope: " + title;
		function row(k, v, cls) {
			rows.push(el("dt", { text: k }), el("dd", { "class": cls || null }, v));
		}
		if (data.service)
			row("service", data.service);
		if (data.python)
			row("python", data.python);
		row("recorded", fmtTime(data.start_timestamp) + " to " + fmtTime(data.timestamp) +
		    " (" + fmtDuration(data.timestamp - data.start_timestamp) + ")" +
		    (data.final ? "" : ", still running"));
		row("outstanding", fmtBytes(t.outstanding_bytes) + " in " + fmtCount(t.outstanding_allocs) +
		    " blocks, " + fmtCount(data.stacks_total) + " stacks (" + data.stacks.length + " shown)");
		row("allocations", fmtCount(t.allocs) + " allocated, " + fmtCount(t.frees) + " freed" +
		    (t.untracked_frees ? ", " + fmtCount(t.untracked_frees) + " frees of untracked blocks" : "") +
		    (t.failed_allocs ? ", " + fmtCount(t.failed_allocs) + " failed" : ""));
		if (data.sample_bytes)
			row("sampling", "one allocation per " + fmtBytes(data.sample_bytes) +
			    " sampled: numbers are estimates", "warn");
		if (data.filtered)
			row("filtered", "--min-age / --min-size / --max-size applied");
		var drops = Object.keys(t.drops).filter(function (k) { return t.drops[k]; })
			.map(function (k) { return k + " " + fmtCount(t.drops[k]); });
		row("dropped", fmtCount(t.dropped) + (drops.length ? " (" + drops.join(", ") + ")" : ""),
		    t.dropped ? "warn" : null);
		if (t.stacks_cut) {
			var cuts = Object.keys(t.cuts).filter(function (k) { return t.cuts[k]; })
				.map(function (k) { return k + " " + fmtCount(t.cuts[k]); });
			row("stacks cut short", fmtCount(t.stacks_cut) + " (" + cuts.join(", ") + ")", "warn");
		}
		if (t.exited_processes)
			row("exited", fmtCount(t.exited_processes) + " processes, their " +
			    fmtBytes(t.exited_bytes) + " no longer counted");
		row("kernel memory", fmtBytes(t.kernel_memory_bytes) + " in leakscope's BPF maps");

		return el("header", { id: "summary" }, el("h1", { text: "leakscope: " + title }), el("dl", {}, rows));
	}

	/* --- chart: outstanding bytes over time --- */

	function niceStep(max, n) {
		var raw = max / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
		var r = raw / mag;
		return mag * (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10);
	}

	function ticks(max, n, scale) {
		var step = niceStep(max / scale, n) * scale, out = [];
		for (var v = 0; v <= max * 1.0001; v += step)
			out.push(v);
		return out;
	}

	/* The stacks the chart draws: the largest TOP_SERIES with a history */
	function chartStacks() {
		return data.stacks.map(function (s, i) { return { s: s, i: i }; })
			.filter(function (x) { return x.s.series.length; })
			.sort(function (a, b) { return b.s.outstanding_bytes - a.s.outstanding_bytes; })
			.slice(0, TOP_SERIES);
	}

	function valueAt(series, t) {
		var lo = 0, hi = series.length - 1;
		if (!series.length || t < series[0][0])
			return null;
		while (lo < hi) {
			var mid = (lo + hi + 1) >> 1;
			if (series[mid][0] <= t) lo = mid; else hi = mid - 1;
		}
		return series[lo][1];
	}

	function renderChart(box, legend) {
		var top = chartStacks(), all = [data.total_series].concat(top.map(function (x) { return x.s.series; }));
		var tmax = 0, ymax = 0;

		box.textContent = "";
		legend.textContent = "";
		all.forEach(function (s) {
			s.forEach(function (p) { tmax = Math.max(tmax, p[0]); ymax = Math.max(ymax, p[1]); });
		});
		var W = Math.max(box.clientWidth || 0, 480), H = 300, L = 78, R = 16, T = 10, B = 30;
		var root = svg("svg", { id: "chart-svg", viewBox: "0 0 " + W + " " + H, height: H,
					"data-series-count": top.length });
		if (!data.total_series.length && !top.length) {
			append(box, el("p", { "class": "muted", text: "No history in this report: " +
				"leakscope record and serve keep outstanding bytes over time." }));
			return;
		}
		tmax = tmax || 1;
		ymax = ymax || 1;
		var xs = function (t) { return L + (W - L - R) * t / tmax; };
		var ys = function (b) { return T + (H - T - B) * (1 - b / ymax); };
		var grid = svg("g", { "class": "grid" }), axis = svg("g", { "class": "axis" });
		var u = byteUnit(ymax), us = Math.pow(1024, u);
		ticks(ymax, 5, us).forEach(function (v) {
			grid.appendChild(svg("line", { x1: L, x2: W - R, y1: ys(v), y2: ys(v) }));
			axis.appendChild(svg("text", { x: L - 6, y: ys(v) + 4, "text-anchor": "end",
				text: (v / us).toFixed(v / us % 1 ? 1 : 0) + " " + UNITS[u] }));
		});
		var tu = tmax >= 7200 ? 3600 : tmax >= 120 ? 60 : 1, tn = { 1: "s", 60: "min", 3600: "h" }[tu];
		ticks(tmax, 8, tu).forEach(function (v) {
			axis.appendChild(svg("text", { x: xs(v), y: H - 10, "text-anchor": "middle",
				text: +(v / tu).toFixed(2) + " " + tn }));
		});
		root.appendChild(grid);
		root.appendChild(axis);

		function pathOf(series) {
			var d = series.map(function (p, k) {
				return (k ? "L" : "M") + xs(p[0]).toFixed(1) + "," + ys(p[1]).toFixed(1);
			}).join("");
			return series.length === 1 ? d + "l0.1,0" : d;	/* one point: a dot */
		}
		var paths = [];
		if (data.total_series.length) {
			var tp = svg("path", { id: "series-total", "class": "series series-total",
				d: pathOf(data.total_series) });
			root.appendChild(tp);
			append(legend, el("span", { "class": "item" }, el("span", { "class": "swatch total" }),
				el("span", { text: "all stacks" })));
		}
		top.forEach(function (x, rank) {
			var colour = seriesColour(x.s["class"], rank);
			var p = svg("path", { id: "series-stack-" + x.i, "class": "series series-stack cls-" + x.s["class"],
				"data-stack": x.i, "data-class": x.s["class"], stroke: colour, d: pathOf(x.s.series) });
			root.appendChild(p);
			paths.push(p);
			var item = el("span", { "class": "item", "data-stack": x.i },
				el("span", { "class": "swatch", style: "background:" + colour }),
				el("span", { text: "#" + (x.i + 1) + " " + siteLabel(x.s) + " (" + x.s["class"] + ")" }));
			item.addEventListener("mouseenter", function () { highlightStack(x.i, true); });
			item.addEventListener("mouseleave", function () { highlightStack(x.i, false); });
			item.addEventListener("click", function () { openStack(x.i); });
			append(legend, item);
		});

		var cursor = svg("line", { "class": "cursor", y1: T, y2: H - B, visibility: "hidden" });
		var overlay = svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "transparent" });
		root.appendChild(cursor);
		root.appendChild(overlay);
		overlay.addEventListener("mousemove", function (ev) {
			var r = root.getBoundingClientRect(), x = (ev.clientX - r.left) * W / r.width;
			var t = Math.max(0, Math.min(tmax, (x - L) * tmax / (W - L - R)));
			cursor.setAttribute("x1", xs(t));
			cursor.setAttribute("x2", xs(t));
			cursor.setAttribute("visibility", "visible");
			var lines = [];
			if (data.total_series.length)
				lines.push("all stacks: " + fmtBytes(valueAt(data.total_series, t)));
			top.forEach(function (x) {
				var v = valueAt(x.s.series, t);
				if (v !== null)
					lines.push("#" + (x.i + 1) + " " + siteLabel(x.s) + ": " + fmtBytes(v));
			});
			showTip(ev, "at " + fmtDuration(t), lines);
		});
		overlay.addEventListener("mouseleave", function () {
			cursor.setAttribute("visibility", "hidden");
			hideTip();
		});
		box.appendChild(root);
	}

	function highlightStack(i, on) {
		document.querySelectorAll("#chart .series-stack").forEach(function (p) {
			var me = p.getAttribute("data-stack") === String(i);
			p.classList.toggle("hl", on && me);
			p.classList.toggle("dim", on && !me);
		});
		var row = document.getElementById("stack-row-" + i);
		if (row)
			row.classList.toggle("hl", on);
	}

	/* --- flame graph --- */

	var flame = { mode: "bytes", growingOnly: false, search: "", zoom: [], root: null };

	function newNode(name, frame, key) {
		return { name: name, frame: frame, key: key, children: {}, list: [],
			 bytes: 0, blocks: 0, alloc: 0, allocs: 0, growth: 0, cls: {}, stacks: 0, value: 0 };
	}

	function child(node, key, name, frame) {
		if (!node.children[key]) {
			node.children[key] = newNode(name, frame, key);
			node.list.push(node.children[key]);
		}
		return node.children[key];
	}

	function addTo(n, s, v) {
		n.value += v;
		n.bytes += s.outstanding_bytes;
		n.blocks += s.outstanding_allocs;
		n.alloc += s.alloc_bytes;
		n.allocs += s.alloc_count;
		n.growth += s.growth_bytes_per_s || 0;
		n.cls[s["class"]] = (n.cls[s["class"]] || 0) + v;
		n.stacks++;
	}

	/* The tree of the stacks shown, callers first; value by mode */
	function buildTree() {
		var root = newNode("all", null, "");
		data.stacks.forEach(function (s) {
			var v = flame.mode === "bytes" ? s.outstanding_bytes : s.alloc_bytes;
			if (v <= 0 || (flame.growingOnly && s["class"] !== "growing"))
				return;
			addTo(root, s, v);
			var n = root;
			if (data.multi) {
				var pname = (s.comm || "?") + " (" + s.pid + ")";
				n = child(n, "pid\u0000" + s.pid, pname, null);
				addTo(n, s, v);
			}
			if (!s.frames.length) {
				var lost = s.stack_lost ? "[stack lost]" : "??";
				addTo(child(n, "\u0000" + lost, lost, null), s, v);
			}
			for (var j = s.frames.length - 1; j >= 0; j--) {
				var f = s.frames[j];
				n = child(n, frameKey(f), frameLabel(f), f);
				addTo(n, s, v);
			}
		});
		(function sort(n) {
			n.list.sort(function (a, b) { return b.value - a.value; });
			n.list.forEach(sort);
		})(root);
		return root;
	}

	function dominant(n) {
		var best = "unknown", bv = -1;
		CLASSES.forEach(function (c) {
			if ((n.cls[c] || 0) > bv) { best = c; bv = n.cls[c] || 0; }
		});
		return best;
	}

	function matches(n) {
		if (!flame.search)
			return false;
		var q = flame.search.toLowerCase();
		return n.name.toLowerCase().indexOf(q) >= 0 ||
		       (n.frame && ((n.frame.module || "") + " " + (n.frame.file || "")).toLowerCase().indexOf(q) >= 0);
	}

	function depth(n) {
		var d = 0;
		n.list.forEach(function (c) { d = Math.max(d, depth(c)); });
		return d + 1;
	}

	function zoomNode() {
		var path = [flame.root];
		for (var k = 0; k < flame.zoom.length; k++) {
			var c = path[path.length - 1].children[flame.zoom[k]];
			if (!c)
				break;
			path.push(c);
		}
		return path;
	}

	function renderFlame() {
		var box = document.getElementById("flame"), info = document.getElementById("flame-info");
		var W = Math.max(box.clientWidth || 0, 300), frag = document.createDocumentFragment();
		var path = zoomNode(), z = path[path.length - 1], matched = 0, nframes = 0;

		box.textContent = "";
		if (!flame.root.value) {
			append(box, el("div", { "class": "empty", text: flame.growingOnly ?
				"No stack is classed as growing." : "Nothing to show." }));
			box.style.height = "";
			info.textContent = "";
			return;
		}
		function put(n, x, w, row, ancestor) {
			var d = el("div", { "class": "frame cls-" + dominant(n) + (ancestor ? " ancestor" : "") +
					(n.frame && n.frame.python ? " py" : "") +
					(matches(n) ? " match" : ""), "data-name": n.name, text: n.name });
			d.style.left = x.toFixed(1) + "px";
			d.style.top = (row * ROW_PX) + "px";
			d.style.width = w.toFixed(1) + "px";
			d.style.background = classColour(dominant(n), n.name);
			d._node = n;
			frag.appendChild(d);
			nframes++;
		}
		/* matched value: each match counted once, not again below it */
		function layout(n, x, w, row, under) {
			var m = matches(n);
			if (m && !under)
				matched += n.value;
			put(n, x, w, row, false);
			var cx = x;
			n.list.forEach(function (c) {
				var cw = w * c.value / n.value;
				if (cw >= 0.5)
					layout(c, cx, cw, row + 1, under || m);
				cx += cw;
			});
		}
		for (var k = 0; k < path.length - 1; k++)
			put(path[k], 0, W, k, true);
		layout(z, 0, W, path.length - 1, path.slice(0, -1).some(matches));
		box.style.height = ((path.length - 1 + depth(z)) * ROW_PX + 2) + "px";
		box.setAttribute("data-frames", nframes);
		box.appendChild(frag);
		var what = flame.mode === "bytes" ? "outstanding" : "allocated";
		info.textContent = (z === flame.root ? "" : "zoomed on " + z.name + ": ") +
			fmtBytes(z.value) + " " + what +
			(flame.search ? "; matching \u201c" + flame.search + "\u201d: " + fmtBytes(matched) +
			 " (" + pct(matched, z.value) + ")" : "");
	}

	function nodeTip(ev, n) {
		var shown = flame.mode === "bytes" ? n.bytes : n.alloc;
		var mix = CLASSES.filter(function (c) { return n.cls[c]; }).map(function (c) {
			return c + " " + pct(n.cls[c], n.value);
		});
		showTip(ev, n.name, [
			n.frame ? frameWhere(n.frame) : null,
			"outstanding: " + fmtBytes(n.bytes) + " in " + fmtCount(n.blocks) + " blocks" +
				(flame.mode === "bytes" ? " (" + pct(shown, flame.root.value) + " of all)" : ""),
			"allocated: " + fmtBytes(n.alloc) + " in " + fmtCount(n.allocs) + " blocks" +
				(flame.mode === "alloc" ? " (" + pct(shown, flame.root.value) + " of all)" : ""),
			"class: " + dominant(n) + (mix.length > 1 ? " (" + mix.join(", ") + ")" : ""),
			"growth: " + fmtRate(n.growth),
			n.stacks + (n.stacks === 1 ? " stack" : " stacks")
		]);
	}

	function rebuildFlame() {
		flame.root = buildTree();
		renderFlame();
	}

	function renderFlameSection() {
		var search = el("input", { type: "search", id: "flame-search", placeholder: "search functions, files, modules" });
		var growing = el("input", { type: "checkbox", id: "flame-growing" });
		var modes = [["bytes", "outstanding bytes"], ["alloc", "allocation volume"]].map(function (m) {
			var r = el("input", { type: "radio", name: "flame-mode", value: m[0], id: "flame-mode-" + m[0] });
			r.checked = flame.mode === m[0];
			r.addEventListener("change", function () { flame.mode = m[0]; rebuildFlame(); });
			return el("label", {}, r, " " + m[1]);
		});
		var reset = el("button", { type: "button", id: "flame-reset", text: "reset zoom" });
		var box = el("div", { id: "flame" });

		search.addEventListener("input", function () { flame.search = search.value.trim(); renderFlame(); });
		growing.addEventListener("change", function () { flame.growingOnly = growing.checked; rebuildFlame(); });
		reset.addEventListener("click", function () { flame.zoom = []; renderFlame(); });
		box.addEventListener("mousemove", function (ev) {
			if (ev.target._node) nodeTip(ev, ev.target._node); else hideTip();
		});
		box.addEventListener("mouseleave", hideTip);
		box.addEventListener("click", function (ev) {
			var n = ev.target._node;
			if (!n)
				return;
			var path = [], p = flame.root;
			/* the keys from the root down to n */
			(function find(node, keys) {
				if (node === n) { path = keys; return true; }
				return node.list.some(function (c) { return find(c, keys.concat([c.key])); });
			})(p, []);
			flame.zoom = path;
			renderFlame();
		});
		return el("section", { id: "flame-section" },
			el("h2", { text: "Flame graph" }),
			el("p", { "class": "muted", text: "Callers on top, the allocating function at the bottom " +
				"of each column; width is bytes.  Click a frame to zoom, the top row to zoom out.  " +
				"Allocation volume counts every byte allocated since tracing began, freed or not " +
				"(pprof's alloc_space), for the stacks in this report." }),
			el("div", { "class": "controls" }, modes,
				el("label", {}, growing, " growing only"), search, reset,
				el("span", { id: "flame-info", "class": "muted" })),
			el("div", { "class": "classes" }, CLASSES.map(function (c) {
				return el("span", { style: "--c: var(--" + c + ")", text: c });
			})),
			box);
	}

	/* --- table of stacks --- */

	var COLUMNS = [
		["#", function (s, i) { return i + 1; }, null],
		["outstanding", function (s) { return s.outstanding_bytes; }, fmtBytes],
		["blocks", function (s) { return s.outstanding_allocs; }, fmtCount],
		["class", function (s) { return s["class"]; }, classBadge],
		["growth", function (s) { return s.growth_bytes_per_s; }, fmtRate],
		["age", function (s) { return s.oldest_age_s; }, fmtDuration],
		["allocated", function (s) { return s.alloc_bytes; }, fmtBytes],
		["where", function (s) { return siteLabel(s); }, null]
	];
	var sortBy = { col: 1, desc: true };

	function stackDetail(s) {
		var items = s.frames.map(function (f, k) {
			return el("li", { value: k, "class": "mono" }, frameLabel(f),
				el("span", { "class": "muted", text: "  " + frameWhere(f) + "  " + f.address }));
		});
		var notes = [];
		if (data.multi)
			notes.push("process " + (s.comm || "?") + " (" + s.pid + ")");
		if (s.cut)
			notes.push("stack walk ended early: " + s.cut);
		if (s.stack_lost)
			notes.push("stack lost");
		notes.push(fmtCount(s.alloc_count) + " allocations, " + fmtBytes(s.alloc_bytes) + " since tracing began");
		return el("td", { colspan: COLUMNS.length + (data.multi ? 1 : 0) },
			el("div", { "class": "muted", text: notes.join("; ") }),
			items.length ? el("ol", { start: 0 }, items) : null);
	}

	function toggleStack(i, open) {
		var row = document.getElementById("stack-row-" + i), next = row.nextSibling;
		var isOpen = next && next.classList.contains("stack-detail");
		if (open === undefined)
			open = !isOpen;
		if (open && !isOpen)
			row.parentNode.insertBefore(el("tr", { "class": "stack-detail", id: "stack-detail-" + i },
				stackDetail(data.stacks[i])), next);
		else if (!open && isOpen)
			next.parentNode.removeChild(next);
		row.setAttribute("aria-expanded", open ? "true" : "false");
	}

	function openStack(i) {
		toggleStack(i, true);
		document.getElementById("stack-row-" + i).scrollIntoView({ block: "center" });
	}

	function renderTable(table) {
		var order = data.stacks.map(function (s, i) { return i; });
		var key = COLUMNS[sortBy.col][1];
		order.sort(function (a, b) {
			var x = key(data.stacks[a], a), y = key(data.stacks[b], b);
			if (x === null || x === undefined) return 1;
			if (y === null || y === undefined) return -1;
			var c = typeof x === "string" ? x.localeCompare(y) : x - y;
			return sortBy.desc ? -c : c;
		});
		table.textContent = "";
		var head = el("tr", {}, COLUMNS.map(function (c, k) {
			var th = el("th", { "class": k === 3 || k === 7 ? "text" : null,
				text: c[0] + (k === sortBy.col ? (sortBy.desc ? " \u25be" : " \u25b4") : "") });
			th.addEventListener("click", function () {
				sortBy = { col: k, desc: k === sortBy.col ? !sortBy.desc : k !== 7 && k !== 3 };
				renderTable(table);
			});
			return th;
		}), data.multi ? el("th", { "class": "text", text: "process" }) : null);
		var body = el("tbody", {});
		order.forEach(function (i) {
			var s = data.stacks[i];
			var tr = el("tr", { "class": "stack-row", id: "stack-row-" + i, "data-stack": i,
					    "data-class": s["class"], "aria-expanded": "false" },
				COLUMNS.map(function (c, k) {
					var v = c[1](s, i);
					return el("td", { "class": k === 7 ? "text top mono" : k === 3 ? "text" : null },
						c[2] ? c[2](v) : String(v));
				}),
				data.multi ? el("td", { "class": "text", text: (s.comm || "?") + " (" + s.pid + ")" }) : null);
			tr.addEventListener("click", function () { toggleStack(i); });
			tr.addEventListener("mouseenter", function () { highlightStack(i, true); });
			tr.addEventListener("mouseleave", function () { highlightStack(i, false); });
			body.appendChild(tr);
		});
		append(table, [el("thead", {}, head), body]);
	}

	/* --- the page --- */

	function render() {
		data = JSON.parse(document.getElementById("leakscope-data").textContent);
		app = document.getElementById("app");
		app.textContent = "";
		tooltip = el("div", { id: "tooltip" });
		var chart = el("div", { id: "chart" }), legend = el("div", { id: "chart-legend" });
		var table = el("table", { id: "stacks" });
		append(app, [
			renderSummary(),
			el("section", { id: "chart-section" },
				el("h2", { text: "Outstanding bytes over time" }), chart, legend),
			renderFlameSection(),
			el("section", { id: "table-section" },
				el("h2", { text: "Stacks (" + data.stacks.length + " of " + data.stacks_total + ")" }),
				el("p", { "class": "muted", text: "Click a row for its whole stack, innermost frame first." }),
				table),
			tooltip
		]);
		renderChart(chart, legend);
		rebuildFlame();
		renderTable(table);
		var pending = null;
		window.addEventListener("resize", function () {
			clearTimeout(pending);
			pending = setTimeout(function () { renderChart(chart, legend); renderFlame(); }, 150);
		});
	}

	function fail(err) {
		var box = document.getElementById("app") || document.body;
		box.appendChild(el("div", { id: "render-error",
			text: "This report could not be drawn: " + (err && err.stack || err) }));
		throw err;
	}

	try {
		render();
	} catch (err) {
		fail(err);
	}
})();
