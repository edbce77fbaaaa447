import {
  initElection,
  step,
  type ElectionAction,
  type ElectionConfig,
  type ElectionEvent,
  type ElectionMessage,
  type ElectionState,
  type TimerName,
} from '../../src/election/index.ts'

/** A single state machine driven by hand, keeping the actions of the last step. */
export class Probe {
  state: ElectionState
  actions: readonly ElectionAction[] = []

  constructor(id: string, priority = 0, config: Partial<ElectionConfig> = {}) {
    this.state = initElection({ id, priority }, config)
  }

  feed(...events: ElectionEvent[]): readonly ElectionAction[] {
    const all: ElectionAction[] = []
    for (const e of events) {
      const r = step(this.state, e)
      this.state = r.state
      all.push(...r.actions)
    }
    this.actions = all
    return all
  }

  up(peer: string, priority = 0): readonly ElectionAction[] {
    return this.feed({ type: 'peerUp', peer, rank: { id: peer, priority } })
  }

  msg(from: string, msg: ElectionMessage): readonly ElectionAction[] {
    return this.feed({ type: 'message', from, msg })
  }

  timer(name: TimerName): readonly ElectionAction[] {
    return this.feed({ type: 'timer', name })
  }

  report(from: string, term: number, isMaster: boolean, priority = 0): readonly ElectionAction[] {
    return this.feed({ type: 'report', from, rank: { id: from, priority }, term, isMaster })
  }

  /** A follower's report naming its master. */
  hearsay(from: string, term: number, master: string, masterPriority = 0): readonly ElectionAction[] {
    return this.feed({ type: 'report', from, rank: { id: from, priority: 0 }, term, isMaster: false, master: { id: master, priority: masterPriority } })
  }
}

export const election = (term: number): ElectionMessage => ({ type: 'ELECTION', term })
export const answer = (term: number): ElectionMessage => ({ type: 'ANSWER', term })
export const coordinator = (term: number): ElectionMessage => ({ type: 'COORDINATOR', term })
