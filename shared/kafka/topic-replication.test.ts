import { describe, expect, it } from 'vitest';
import { topicReplication } from './kafka.js';

const auto = { replicationFactor: 0, minInsyncReplicas: 0 };

describe('topicReplication', () => {
  it('keeps one copy on one broker', () => {
    expect(topicReplication(1, auto)).toEqual({ replicationFactor: 1, minInsyncReplicas: 1 });
  });

  it('keeps three copies, two in sync, on a cluster of three or more', () => {
    expect(topicReplication(3, auto)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(topicReplication(7, auto)).toEqual({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('keeps as many copies as there are brokers below three', () => {
    expect(topicReplication(2, auto)).toEqual({ replicationFactor: 2, minInsyncReplicas: 1 });
  });

  it('takes explicit settings and refuses impossible ones, naming the variable', () => {
    expect(topicReplication(5, { replicationFactor: 5, minInsyncReplicas: 3 })).toEqual({
      replicationFactor: 5,
      minInsyncReplicas: 3,
    });
    expect(() => topicReplication(1, { replicationFactor: 3, minInsyncReplicas: 0 })).toThrow(
      /KAFKA_TOPIC_REPLICATION_FACTOR/,
    );
    expect(() => topicReplication(3, { replicationFactor: 3, minInsyncReplicas: 4 })).toThrow(
      /KAFKA_TOPIC_MIN_INSYNC_REPLICAS/,
    );
  });
});
