"""The item viewer: every test item with its input, gold answer, each candidate's output and every score,
filterable by wrong / slice / candidate / text and sortable — inside the self-contained report.

Why rows rendered on the server and a small script on top: the table is complete and readable with scripts off
(and in print), every text is escaped by ``doc.esc`` like the rest of the report, and the script only hides,
shows and reorders rows from ``data-*`` attributes. The script is one constant, allowed by the page's CSP through
its SHA-256 (``script_hash``), so the report still runs nothing else and fetches nothing. The state lives in the
URL fragment (``#items?show=wrong&cand=c0&slice=channel%3Dchat&sort=wrong&q=card``), so a filtered view can be
linked to and a test can open one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tunegate.report.collect import RunArtifacts
from tunegate.report.doc import Code, Heading, Html, Para, Table, esc, fmt_num
from tunegate.report.items import Answer, Candidate, ItemTable, item_table

KIND_LABEL = {"best": "best prompt", "finalist": "finalist", "baseline": "zero-shot baseline", "eval": "evaluation",
              "probe": "fine-tune probe"}
MD_WRONG_ROWS = 20

SCRIPT = r"""(function(){
var root=document.getElementById('items-viewer');if(!root)return;
var q=function(s){return root.querySelector(s);};
var tbody=q('tbody'),rows=Array.prototype.slice.call(tbody.rows),ctl=q('.viewer-controls');
var f={show:q('#iv-show'),cand:q('#iv-cand'),slice:q('#iv-slice'),sort:q('#iv-sort'),q:q('#iv-q')};
var count=q('#iv-count'),total=rows.length;ctl.hidden=false;
rows.forEach(function(r,i){r._i=i;r._w=(r.getAttribute('data-wrong')||'').split(' ').filter(Boolean);
r._a=(r.getAttribute('data-answered')||'').split(' ').filter(Boolean);
r._s=JSON.parse(r.getAttribute('data-slices')||'[]');r._t=r.textContent.toLowerCase();
r._p=JSON.parse(r.getAttribute('data-primary')||'{}');});
function has(a,x){return a.indexOf(x)>=0;}
function keep(r,s){var c=s.cand;
if(s.slice&&!has(r._s,s.slice))return false;
if(s.q&&r._t.indexOf(s.q.toLowerCase())<0)return false;
var ans=c?(has(r._a,c)?[c]:[]):r._a;var wrong=ans.filter(function(x){return has(r._w,x);});
if(s.show==='wrong')return wrong.length>0;
if(s.show==='right')return ans.length>0&&wrong.length===0;
if(s.show==='disagree')return r._w.length>0&&r._w.length<r._a.length;
if(s.show==='unanswered')return c?!has(r._a,c):false;
return true;}
function key(r,s){if(s.sort==='wrong')return[-r._w.length,r._i];
if(s.sort==='gold')return[r.getAttribute('data-gold')||'',r._i];
if(s.sort==='score'){var v=r._p[s.cand||(rows.length&&root.getAttribute('data-best'))||''];
return[v===undefined||v===null?2:v,r._i];}
return[r._i,0];}
function cmp(a,b){for(var i=0;i<a.length;i++){if(a[i]<b[i])return -1;if(a[i]>b[i])return 1;}return 0;}
function state(){return{show:f.show.value,cand:f.cand.value,slice:f.slice.value,sort:f.sort.value,q:f.q.value};}
function apply(s,write){var shown=0;
rows.map(function(r){return[key(r,s),r];}).sort(function(a,b){return cmp(a[0],b[0]);})
.forEach(function(p){tbody.appendChild(p[1]);var k=keep(p[1],s);p[1].hidden=!k;if(k)shown++;});
root.setAttribute('data-cand',s.cand);
Array.prototype.forEach.call(root.querySelectorAll('[data-c]'),function(el){
el.hidden=!!s.cand&&el.getAttribute('data-c')!==s.cand;});
count.textContent='Showing '+shown+' of '+total+' items';root.setAttribute('data-shown',String(shown));
if(write&&window.history&&history.replaceState){var p=[];for(var k in s){if(s[k]&&!(k==='show'&&s[k]==='all')
&&!(k==='sort'&&s[k]==='id'))p.push(k+'='+encodeURIComponent(s[k]));}
try{history.replaceState(null,'',p.length?'#items?'+p.join('&'):'#items');}catch(e){}}}
function fromHash(){var h=location.hash,i=h.indexOf('?');var s=state();if(h.indexOf('#items')!==0||i<0)return s;
h.slice(i+1).split('&').forEach(function(kv){var j=kv.indexOf('=');if(j<0)return;var k=kv.slice(0,j),v;
try{v=decodeURIComponent(kv.slice(j+1));}catch(e){return;}
if(f[k]){if(f[k].tagName==='SELECT'&&!Array.prototype.some.call(f[k].options,function(o){return o.value===v;}))return;
f[k].value=v;s[k]=v;}});return s;}
['show','cand','slice','sort'].forEach(function(k){f[k].addEventListener('change',function(){apply(state(),true);});});
f.q.addEventListener('input',function(){apply(state(),true);});
window.addEventListener('hashchange',function(){apply(fromHash(),false);});
apply(fromHash(),false);})();"""


def script_hash() -> str:
    """The CSP source that allows exactly ``SCRIPT`` (and nothing else) to run."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii") + "'"


def _text(x: Any) -> str:
    if x is None:
        return ""
    return x if isinstance(x, str) else json.dumps(x, ensure_ascii=False, default=str)


def _score_text(v: Any) -> str:
    return "unscored" if v is None else fmt_num(v)


def _answer_html(a: Answer | None, c: Candidate) -> str:
    if a is None:
        return f'<td data-c="{c.key}" data-label="{esc(c.name)}" class="ans none">not evaluated on this item</td>'
    mark = '<span class="badge b-bad">✗</span>' if a.wrong else '<span class="badge b-good">✓</span>'
    pred, out = _text(a.prediction), _text(a.output)
    parts = [f'<div class="pred">{mark} {esc(pred) if pred else "<em>no prediction</em>"}</div>']
    if out and out.strip() != pred.strip():
        parts.append(f'<div class="out">{esc(out)}</div>')
    if a.error:
        parts.append(f'<div class="err">error: {esc(a.error)}</div>')
    if a.scores:
        parts.append('<div class="scores">' + " · ".join(f"{esc(k)} {esc(_score_text(v))}"
                                                          for k, v in a.scores.items()) + "</div>")
    cls = "ans bad" if a.wrong else "ans ok"
    return f'<td data-c="{c.key}" data-label="{esc(c.name)}" class="{cls}">{"".join(parts)}</td>'


def _options(pairs: list[tuple[str, str]], selected: str = "") -> str:
    return "".join(f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(t)}</option>'
                   for v, t in pairs)


def viewer_html(t: ItemTable) -> str:
    cands = t.candidates
    slices = sorted({f"{k}={v}" for it in t.items for k, v in it.slices.items()})
    show_split = len({it.split for it in t.items}) > 1
    best = t.best
    controls = (
        '<div class="viewer-controls" hidden>'
        f'<label>Show <select id="iv-show">{_options([("all", "all items"), ("wrong", "wrong answers"), ("right", "right answers"), ("disagree", "candidates disagree"), ("unanswered", "not evaluated (one candidate)")])}</select></label>'  # noqa: E501
        f'<label>Candidate <select id="iv-cand">{_options([("", "all candidates")] + [(c.key, c.name) for c in cands])}</select></label>'  # noqa: E501
        f'<label>Slice <select id="iv-slice">{_options([("", "all slices")] + [(s, s) for s in slices])}</select></label>'  # noqa: E501
        f'<label>Sort <select id="iv-sort">{_options([("id", "item id"), ("wrong", "most wrong first"), ("gold", "gold answer"), ("score", "candidate score, lowest first")])}</select></label>'  # noqa: E501
        '<label>Search <input id="iv-q" type="search" placeholder="text, id, label" autocomplete="off"></label>'
        f'<p id="iv-count" class="note" aria-live="polite">Showing {len(t.items)} of {len(t.items)} items</p>'
        "</div>")
    legend = "".join(f'<li><strong>{esc(c.name)}</strong> — {esc(KIND_LABEL.get(c.kind, c.kind))}, from '
                     f"<code>{esc(c.source)}</code></li>" for c in cands)
    head = ("<th>item</th><th>input</th><th>gold</th>"
            + "".join(f'<th data-c="{c.key}">{esc(c.name)}</th>' for c in cands))
    rows = []
    for it in t.items:
        wrong = " ".join(c.key for c in cands if c.key in it.answers and it.answers[c.key].wrong)
        answered = " ".join(c.key for c in cands if c.key in it.answers)
        primary = {c.key: it.answers[c.key].primary for c in cands if c.key in it.answers}
        sl = [f"{k}={v}" for k, v in it.slices.items()]
        meta = "".join(f'<span class="slice">{esc(s)}</span>' for s in sl)
        split = f'<span class="slice">split {esc(it.split)}</span>' if show_split and it.split else ""
        rows.append(
            f'<tr data-id="{esc(it.id)}" data-gold="{esc(_text(it.gold))}" data-wrong="{wrong}" '
            f'data-answered="{answered}" data-slices="{esc(json.dumps(sl, ensure_ascii=False))}" '
            f'data-primary="{esc(json.dumps(primary))}">'
            f'<td data-label="item" class="iid"><code>{esc(it.id)}</code>{split}{meta}</td>'
            f'<td data-label="input" class="input">{esc(it.input) if it.input is not None else "<em>not available</em>"}</td>'  # noqa: E501
            f'<td data-label="gold" class="gold">{esc(_text(it.gold))}</td>'
            + "".join(_answer_html(it.answers.get(c.key), c) for c in cands) + "</tr>")
    return (f'<div class="viewer" id="items-viewer" data-best="{esc(best.key if best else "")}">{controls}'
            f'<ul class="legend">{legend}</ul>'
            f'<div class="viewer-wrap"><table class="items"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></div>')


def _summary_rows(t: ItemTable) -> list[list[Any]]:
    rows = []
    for c in t.candidates:
        answers = [it.answers[c.key] for it in t.items if c.key in it.answers]
        wrong = sum(a.wrong for a in answers)
        errors = sum(a.error is not None for a in answers)
        unscored = sum(a.error is None and a.primary is None for a in answers)
        rows.append([c.name, KIND_LABEL.get(c.kind, c.kind), fmt_num(len(answers)), fmt_num(wrong),
                     fmt_num(unscored), fmt_num(errors)])
    return rows


def viewer_section(arts: RunArtifacts) -> list:
    out: list = [Heading(2, "Item viewer — every test answer", anchor="items"),
                 Para(["Each test item with its input, the gold answer, every candidate's output and prediction, "
                       "and every score. Wrong = an error, unscored, or a primary score below 0.5."], kind="note")]
    t = item_table(arts)
    if not t.items:
        return out + [Para(["Not measured yet: no per-item results (sprint_results.jsonl, or results.jsonl beside "
                            "an eval.json) in this run. Run ", Code("tunegate sprint CONFIG"), " or ",
                            Code("tunegate eval CONFIG"), " to produce them."], kind="missing")]
    summary = Table(["candidate", "role", "items", "wrong", "unscored", "errors"], _summary_rows(t),
                    numeric=(2, 3, 4, 5), caption="Answers per candidate")
    out.append(summary)
    md: list = []
    best = t.best
    if best is not None:
        wrong = [it for it in t.items if best.key in it.answers and it.answers[best.key].wrong]
        others = [c for c in t.candidates if c.key != best.key][:2]
        rows = [[it.id, _text(it.gold), _text(it.answers[best.key].prediction),
                 *[_text(it.answers[c.key].prediction) if c.key in it.answers else "–" for c in others]]
                for it in wrong[:MD_WRONG_ROWS]]
        if rows:
            md.append(Table(["item", "gold", best.name, *[c.name for c in others]], rows,
                            caption=f"Items the best candidate gets wrong ({len(wrong)}; first "
                                    f"{min(len(wrong), MD_WRONG_ROWS)} shown)"))
    md.append(Para(["The filterable item viewer (inputs, outputs, every score) is in report.html."], kind="note"))
    out.append(Html(viewer_html(t), md))
    if t.n_items_total:
        out.append(Para([f"{fmt_num(t.n_items_total)} items, {len(t.candidates)} answer columns."], kind="note"))
    for n in t.notes:
        out.append(Para([n], kind="note"))
    return out
