// The cluster: a card per node (role, master marked, load, languages) with a
// live CPU/memory chart of the last minutes (uPlot).
import uPlot from '/vendor/uPlot.esm.js'
import { el, short } from './util.js'

const WINDOW_S = 5 * 60

/** The time shown: the last 5 minutes, or less while there is less history (at least half a minute). */
function visible (u) {
  const xs = u.data[0]
  const last = xs.length > 0 ? xs[xs.length - 1] : Date.now() / 1000
  const span = xs.length > 0 ? last - xs[0] : 0
  return [last - Math.min(WINDOW_S, Math.max(30, span)), last]
}

/** Ticks counted back from the newest sample: now, -30s, -1m, … */
function ticks (u, axis, min, max) {
  const span = max - min
  const step = [10, 15, 30, 60, 120].find((s) => span / s <= 5) ?? 60
  const out = []
  for (let t = max; t >= min - 0.001; t -= step) out.unshift(t)
  return out
}

function ago (u, ts) {
  const last = u.scales.x.max
  return ts.map((t) => {
    const s = Math.round(last - t)
    return s === 0 ? 'now' : s % 60 === 0 ? `-${s / 60}m` : `-${s}s`
  })
}

function chartOptions (width) {
  const axis = { stroke: '#8b96a3', grid: { stroke: '#232b35', width: 1 }, ticks: { show: false }, font: '10px system-ui, sans-serif' }
  return {
    width, height: 86,
    legend: { show: false },
    cursor: { show: false },
    padding: [6, 12, 0, 0],
    scales: { x: { time: false, range: (u) => visible(u) }, y: { range: [0, 100] } },
    axes: [
      { ...axis, size: 20, splits: ticks, values: ago },
      { ...axis, size: 32, values: (u, vs) => vs.map((v) => `${v}%`), splits: () => [0, 50, 100] },
    ],
    series: [
      {},
      { label: 'CPU', stroke: '#4c9aff', width: 1.5, fill: 'rgba(76, 154, 255, 0.14)', points: { show: false } },
      { label: 'Memory', stroke: '#b48cf2', width: 1.5, points: { show: false } },
    ],
  }
}

export class Cluster {
  constructor (root) {
    this.root = root
    this.cards = new Map()
    this.data = new Map() // id -> [[t], [cpu], [mem]]
    new ResizeObserver(() => { for (const c of this.cards.values()) c.resize() }).observe(root)
  }

  /** A fresh start: the gateway's recent samples, then the current status. */
  init (status, history) {
    this.data.clear()
    for (const sample of history) {
      for (const [id, [cpu, mem]] of Object.entries(sample.nodes)) this.push(id, sample.t / 1000, cpu, mem)
    }
    this.render(status)
  }

  update (status) {
    const t = Date.now() / 1000
    for (const n of status.nodes) if (n.up) this.push(n.id, t, n.cpu, n.mem)
    this.render(status)
  }

  push (id, t, cpu, mem) {
    let d = this.data.get(id)
    if (d === undefined) { d = [[], [], []]; this.data.set(id, d) }
    d[0].push(t); d[1].push(cpu); d[2].push(mem)
    while (d[0].length > 0 && d[0][0] < t - WINDOW_S) { d[0].shift(); d[1].shift(); d[2].shift() }
  }

  render (status) {
    const seen = new Set()
    for (const n of status.nodes) {
      seen.add(n.id)
      let card = this.cards.get(n.id)
      if (card === undefined) {
        card = new NodeCard(n.id, n.id === status.self)
        this.cards.set(n.id, card)
        this.root.append(card.root)
      }
      card.show(n, status, this.data.get(n.id))
    }
    for (const [id, card] of this.cards) {
      if (!seen.has(id)) { card.destroy(); this.cards.delete(id) }
    }
    // The master first, then by id: the order only changes with an election.
    const order = [...this.cards.values()].sort((a, b) => (b.master - a.master) || a.id.localeCompare(b.id))
    if (order.some((c, i) => this.root.children[i] !== c.root)) for (const c of order) this.root.append(c.root)
  }
}

class NodeCard {
  constructor (id, self) {
    this.id = id
    this.master = false
    this.badge = el('span', { class: 'badge' })
    this.stats = el('div', { class: 'stats' })
    this.seen = el('span', { class: 'seen' })
    this.spawned = el('span', { class: 'badge spawned', hidden: true }, 'spawned')
    this.langs = el('div', { class: 'langs' })
    this.chartBox = el('div', { class: 'chart' })
    this.root = el('article', { class: 'node', dataset: { node: id } },
      el('div', { class: 'head' }, this.badge, el('span', { class: 'id', title: id }, short(id)), self ? el('span', { class: 'badge self' }, 'this node') : null, this.spawned, this.seen),
      this.stats, this.langs, this.chartBox)
    this.chart = null
    this.langKey = ''
  }

  show (n, status, data) {
    this.master = n.up && n.id === status.master
    this.root.dataset.role = this.master ? 'master' : 'worker'
    this.root.dataset.up = String(n.up)
    this.badge.className = `badge ${!n.up ? 'down' : this.master ? 'master' : ''}`
    this.badge.textContent = !n.up ? 'down' : this.master ? '★ master' : n.accepting === false ? 'draining' : 'worker'
    this.spawned.hidden = n.spawnedBy == null
    this.spawned.title = n.spawnedBy == null ? '' : `started by ${n.spawnedBy} (autoscaling)`
    this.stats.replaceChildren(
      el('span', {}, 'jobs ', el('b', {}, `${n.running}/${n.maxJobs}`)),
      el('span', {}, 'cpu ', el('b', {}, `${Math.round(n.cpu)}%`)),
      el('span', {}, 'mem ', el('b', {}, `${Math.round(n.mem)}%`)),
    )
    this.seen.textContent = n.id === status.self ? '' : `${(n.lastSeenMs / 1000).toFixed(1)}s ago`
    this.seen.title = 'last load report from this node'
    const key = n.languages.join(',')
    if (key !== this.langKey) {
      this.langKey = key
      this.langs.replaceChildren(...n.languages.map((l) => el('span', {}, l)))
    }
    if (data === undefined || data[0].length === 0) return
    if (this.chart === null) {
      const width = this.chartBox.clientWidth
      if (width === 0) return
      this.chart = new uPlot(chartOptions(width), data, this.chartBox)
    } else {
      this.chart.setData(data)
    }
  }

  resize () {
    const width = this.chartBox.clientWidth
    if (this.chart !== null && width > 0 && width !== this.chart.width) this.chart.setSize({ width, height: 86 })
  }

  destroy () {
    this.chart?.destroy()
    this.root.remove()
  }
}
