import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PresenceTracker, type PresenceUpdate } from '../../src/hub/presence-tracker';
import { envelopeTopic, holdTopic } from '../../src/hub/topic-names';
import { createLogger } from '../../src/logger';
import { PresenceService } from '../../src/presence/presence-service';
import { PresenceTable } from '../../src/presence/presence-table';
import { TopicPatterns } from '../../src/protocol/topic-patterns';
import { CommandBudget } from '../../src/transport/command-budget';
import { waitFor } from '../../scripts/harness/ports';

const log = createLogger('silent', 'script');

describe('presence tracker (worker)', () => {
  it('counts connections per user on tracked topics only, through raw, envelope and hold topics', () => {
    const reports: PresenceUpdate[][] = [];
    const tracker = new PresenceTracker(new TopicPatterns(['room:*']), 60_000, (u) => reports.push(u));
    tracker.onSubscription('ann', 'room:1', 1, 0);
    tracker.onSubscription('ann', envelopeTopic('room:1'), 1, 0);
    tracker.onSubscription(undefined, 'room:1', 2, 1);
    tracker.onSubscription('bob', 'lobby', 1, 0); // not tracked
    // A recovering socket holds, then goes live: net one connection.
    tracker.onSubscription('cat', holdTopic('room:1'), 1, 0);
    tracker.onSubscription('cat', envelopeTopic('room:1'), 2, 1);
    tracker.onSubscription('cat', holdTopic('room:1'), 0, 1);
    assert.equal(tracker.connections('room:1'), 4);
    assert.equal(tracker.connections('lobby'), 0);
    tracker.flush();
    assert.deepEqual(reports, [[['room:1', 'ann', 2], ['room:1', '', 1], ['room:1', 'cat', 1]]]);
    tracker.onSubscription('ann', 'room:1', 0, 1);
    tracker.onSubscription('ann', envelopeTopic('room:1'), 0, 1);
    tracker.flush();
    tracker.flush(); // nothing changed: nothing sent
    assert.deepEqual(reports[1], [['room:1', 'ann', 0]]);
    assert.equal(reports.length, 2);
    tracker.stop();
  });

  it('batches: one report per flush period, none while nothing changes', async () => {
    const reports: PresenceUpdate[][] = [];
    const tracker = new PresenceTracker(new TopicPatterns(['t']), 30, (u) => reports.push(u));
    for (let i = 0; i < 100; i++) tracker.onSubscription(`u${i}`, 't', i + 1, i);
    await waitFor('one report', () => reports.length === 1);
    assert.equal(reports[0].length, 100);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(reports.length, 1);
    tracker.stop();
  });
});

describe('presence table (primary)', () => {
  it('sums workers, counts distinct users, and drops a dead worker at once', () => {
    const table = new PresenceTable();
    table.apply(101, [['room', 'ann', 2], ['room', '', 3]]);
    table.apply(102, [['room', 'ann', 1], ['room', 'bob', 1]]);
    assert.deepEqual(table.count('room'), { connections: 7, users: 2 });
    assert.equal(table.total('room', 'ann'), 3);
    assert.deepEqual(table.dropWorker(102).sort(), [['room', 'ann'], ['room', 'bob']]);
    assert.deepEqual(table.count('room'), { connections: 5, users: 1 });
    table.apply(101, [['room', 'ann', 0], ['room', '', 0]]);
    assert.deepEqual(table.count('room'), { connections: 0, users: 0 });
    assert.deepEqual([...table.topics()], []);
  });

  it('the service answers from memory and announces changed topics once per flush', async () => {
    const announced: { topic: string; connections: number; users: number }[] = [];
    const service = new PresenceService({ patterns: new TopicPatterns(['room:*']), flushMs: 20, announce: async (topic, count) => announced.push({ topic, ...count }), log });
    assert.ok(service.tracks('room:1') && !service.tracks('lobby'));
    service.report(1, [['room:1', 'ann', 1]]);
    service.report(2, [['room:1', 'bob', 2]]);
    service.report(2, [['room:2', 'bob', 1]]);
    assert.deepEqual(await service.count('room:1'), { connections: 3, users: 2 });
    await waitFor('announced', () => announced.length === 2);
    assert.deepEqual(announced, [{ topic: 'room:1', connections: 3, users: 2 }, { topic: 'room:2', connections: 1, users: 1 }]);
    service.workerExited(2);
    await waitFor('announced again', () => announced.length === 4);
    assert.deepEqual(await service.count('room:1'), { connections: 1, users: 1 });
    await service.close();
  });
});

describe('command budget', () => {
  it('takes a burst, then one per refill, and says how long to wait', () => {
    const budget = new CommandBudget(3, 2);
    const socket = {};
    assert.deepEqual([budget.take(socket, 0), budget.take(socket, 0), budget.take(socket, 0)], [0, 0, 0]);
    assert.equal(budget.take(socket, 0), 500);
    assert.equal(budget.take(socket, 250), 250);
    assert.equal(budget.take(socket, 500), 0);
    assert.equal(budget.take(socket, 10_000), 0, 'refilled');
  });
});
