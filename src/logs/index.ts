/** The drop log: kernel LOG line parser, sources, attribution, aggregation, suggested exceptions. */
export { LogParser, DEFAULT_PREFIX, newStats, portProtoText, canonicalIpv6, type DropRecord, type ParseStats, type ParserOptions, type Framing } from './parse.js';
export { kmsgSource, journalSource, fileSource, bootTimeMs, journalArgs, openDevKmsg, spawnLines, LineSplitter, type LogSource, type ReadOptions, type SourceName, type KmsgDevice, type OpenKmsg, type SpawnLines } from './sources.js';
export { Attributor, CurrentStateHistory, IntervalHistory, historyFromLookup, historyFromSnapshot, entryText, containerText, type AddressHistory, type AttributionSource, type Attributed, type EntryRef, type Holder } from './attribute.js';
export { Aggregator, AGGREGATE_DEFAULTS, flowPortText, type AggregateOptions, type AuditReport, type ContainerSummary, type Flow, type FlowClass, type FlowView, type ScanEpisode } from './aggregate.js';
export { suggest, mergeIntoPolicy, renderItems, writeFileAtomic, packetOf, SKIP_SUMMARY, type Suggestion, type SuggestResult, type Skipped, type SkipKind, type MergeResult } from './suggest.js';
