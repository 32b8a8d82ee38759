// Integration tests talk to real servers; a consumer group join alone can take seconds.
jest.setTimeout(120_000);
