import { ConfigReader } from '@backstage/config';
import { readCacheConfig, readSchedules } from './schedule';

describe('runtimeRisk schedules and cache config', () => {
  it('has defaults for every schedule and the cache', () => {
    expect(readSchedules(new ConfigReader({}))).toEqual({
      ingestion: { frequency: { seconds: 30 }, timeout: { minutes: 2 } },
      correlation: { frequency: { minutes: 5 }, timeout: { minutes: 5 } },
      exceptions: { frequency: { minutes: 1 } },
      auditHead: { frequency: { hours: 1 } },
    });
    expect(readCacheConfig(new ConfigReader({}))).toEqual({ enabled: true, ttlMs: 600_000 });
  });

  it('reads what is configured', () => {
    const config = new ConfigReader({
      runtimeRisk: {
        exceptions: { frequency: { seconds: 3 } },
        ingestion: { frequency: 'PT10S' },
        audit: { headFrequency: { minutes: 15 } },
        cache: { enabled: false, ttl: { minutes: 2 } },
      },
    });
    expect(readSchedules(config).exceptions.frequency).toEqual({ seconds: 3 });
    expect(readSchedules(config).ingestion.frequency).toEqual({ seconds: 10 });
    expect(readSchedules(config).auditHead.frequency).toEqual({ minutes: 15 });
    expect(readCacheConfig(config)).toEqual({ enabled: false, ttlMs: 120_000 });
  });

  it('fails naming the key of a malformed value', () => {
    expect(() => readSchedules(new ConfigReader({ runtimeRisk: { exceptions: { frequency: 'soon' } } }))).toThrow(
      /runtimeRisk\.exceptions\.frequency/,
    );
    expect(() => readCacheConfig(new ConfigReader({ runtimeRisk: { cache: { enabled: 'maybe' } } }))).toThrow(
      /runtimeRisk\.cache\.enabled/,
    );
    expect(() => readCacheConfig(new ConfigReader({ runtimeRisk: { cache: { ttl: { minutes: 0 } } } }))).toThrow(
      /runtimeRisk\.cache\.ttl/,
    );
  });
});
