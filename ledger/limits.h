// Every limit of the ledger in one place (TigerBeetle's constants.zig habit).
// Exceeding one is a clear error for the caller, never a hang or a silent truncation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ledger {

// --- Identifiers -----------------------------------------------------------------------------
// Accounts, assets, order ids, campaign ids and other business ids.
inline constexpr std::size_t kIdBytesMax = 128;
inline constexpr std::size_t kIdempotencyKeyBytesMax = 128;
inline constexpr std::size_t kClientIdBytesMax = 64;
inline constexpr std::size_t kCorrelationIdBytesMax = 128;
// Free text: reasons, refs, memos.
inline constexpr std::size_t kTextBytesMax = 512;
inline constexpr std::size_t kMetadataEntriesMax = 16;
inline constexpr std::size_t kMetadataKeyBytesMax = 64;
inline constexpr std::size_t kMetadataValueBytesMax = 256;

// --- Commands --------------------------------------------------------------------------------
inline constexpr std::size_t kTransferPostingsMax = 64;
inline constexpr std::size_t kSettlementSplitsMax = 16;
inline constexpr std::int64_t kBasisPointsMax = 10'000;

// --- Write path ------------------------------------------------------------------------------
// Commands waiting for the sequencer. A full queue answers 503 overloaded at once.
inline constexpr std::size_t kCommandQueueDepthMax = 65'536;
// Commands decided together and made durable in one synced WriteBatch (group commit).
inline constexpr std::size_t kBatchCommandsMax = 4'096;
// Batches decided but not yet durable (the sequencer decides batch N+1 while N syncs).
inline constexpr std::size_t kBatchesInFlightMax = 2;
// Retry-After seconds suggested to clients that hit a full queue.
inline constexpr int kOverloadRetryAfterSeconds = 1;
// After a failed write (disk full, I/O error) the write path stops; the sequencer tries to resume
// the database this often until it succeeds (docs/reliability.md, "Disk full").
inline constexpr std::int64_t kStorageResumeIntervalMs = 1'000;
// Retry-After seconds suggested to clients refused while the write path is stopped (disk full).
inline constexpr int kStorageRetryAfterSeconds = 1;

// --- Read path -------------------------------------------------------------------------------
inline constexpr std::size_t kEventsPageMax = 1'000;
inline constexpr std::size_t kEventsPageDefault = 100;
// One stored event may not exceed this (an event is small; a huge one is a bug or an attack).
inline constexpr std::size_t kEventBytesMax = 64 * 1024;

// --- NATS JetStream (transport/nats_*.h) ------------------------------------------------------
// How long closing a NATS connection waits for the client's closed callback (after which no
// callback of it runs) before destroying it anyway.
inline constexpr int kNatsCloseWaitMs = 5'000;
// Publisher: messages awaiting their JetStream ack at once (--nats-in-flight).
inline constexpr std::size_t kNatsInFlightMax = 65'536;
inline constexpr std::size_t kNatsInFlightDefault = 4'096;
// Read replica: messages fetched from the durable consumer at a time, and written to the
// replica's log in one synced batch.
inline constexpr std::size_t kNatsFetchBatchMax = 4'096;
inline constexpr std::size_t kNatsFetchBatchDefault = 1'024;

// --- Projections -----------------------------------------------------------------------------
// Events a projection applies and writes (with its checkpoint) in one atomic write.
inline constexpr std::size_t kProjectionBatchEventsMax = 4'096;
// Committed view entries a projection keeps in memory (about 100 bytes each for accounts).
inline constexpr std::size_t kProjectionCacheEntriesMax = 4'000'000;
// How long an idle projection worker sleeps before it looks at its stop flag again.
inline constexpr std::int64_t kProjectionIdleWaitUs = 100'000;
// The holders projection's journal of bitmap changes (holders_projection.h). A batch compacts
// it into the stored chunks, instead of adding an entry, once the entry would take the journal
// past max(kHoldersJournalBytesMin, a quarter of the bitmap's serialized size) or past
// kHoldersJournalEntriesMax entries. Bounds what a restart reads back (one point read per entry).
inline constexpr std::size_t kHoldersJournalBytesMin = 1 << 20;
inline constexpr std::size_t kHoldersJournalEntriesMax = 65'536;

// --- Queries ---------------------------------------------------------------------------------
// GET /v1/accounts/{account}/entries page size.
inline constexpr std::size_t kEntriesPageMax = 1'000;
inline constexpr std::size_t kEntriesPageDefault = 100;
// Rows (periods x assets) one statements request may return; a longer range is a 400.
inline constexpr std::size_t kStatementRowsMax = 1'000;
// Named "other items" kinds kept per statement row; further kinds are summed under "other".
inline constexpr std::size_t kStatementKindsMax = 16;
// Accounts in one POST /v1/holders/_check.
inline constexpr std::size_t kHoldersCheckAccountsMax = 10'000;
// min_position waits: default and longest timeout_ms.
inline constexpr std::int64_t kQueryWaitDefaultMs = 5'000;
inline constexpr std::int64_t kQueryWaitMaxMs = 60'000;
// Queries waiting for a projection to reach their min_position at once (503 beyond).
inline constexpr std::size_t kQueryWaitersMax = 10'000;

// --- HTTP ------------------------------------------------------------------------------------
inline constexpr std::size_t kHttpBodyBytesMax = 64 * 1024;
// POST /v1/holders/_check carries up to kHoldersCheckAccountsMax account ids.
inline constexpr std::size_t kHttpHoldersCheckBodyBytesMax = 2 * 1024 * 1024;
inline constexpr std::size_t kHttpHeaderBytesMax = 8 * 1024;
inline constexpr std::size_t kHttpTargetBytesMax = 2 * 1024;
inline constexpr std::size_t kJsonDepthMax = 16;
inline constexpr std::size_t kHttpConnectionsMax = 4'096;
inline constexpr int kHttpIdleTimeoutSeconds = 60;
inline constexpr int kHttpReadTimeoutSeconds = 30;

// --- Binary command protocol (transport/binary_server.h, docs/protocol.md) -----------------
// Commands in one CommandBatch frame.
inline constexpr std::size_t kBinaryBatchCommandsMax = 8'192;
// Bytes of one frame after its 4-byte length prefix: about 2 KiB per command of a full batch.
inline constexpr std::size_t kBinaryFrameBytesMax = 16 * 1024 * 1024;
// Batches the server reads ahead of their results on one connection (pipelining); it stops
// reading the connection until the oldest one is answered.
inline constexpr std::size_t kBinaryBatchesInFlightMax = 8;
// Open binary connections; more are closed at once. Each may hold one frame buffer of up to
// kBinaryFrameBytesMax, so this bounds that memory at 4 GiB.
inline constexpr std::size_t kBinaryConnectionsMax = 256;
// A new connection must send its hello within this.
inline constexpr int kBinaryHelloTimeoutSeconds = 10;

// --- TLS (transport/tls.h; HTTP and binary protocol with --tls-cert/--tls-key) --------------
// A new TLS connection must finish its handshake within this, else it is closed: a peer that
// opens a connection and stalls holds a connection slot for no longer than a silent plain one.
inline constexpr int kTlsHandshakeTimeoutSeconds = 10;

// --- Auth ------------------------------------------------------------------------------------
inline constexpr std::size_t kAuthClientsMax = 10'000;

// --- Audit: ledger-replay rebuild / reconcile -------------------------------------------------
// Events a shared pass over the log reads per batch, and decoded events it holds at most (the
// fastest consumer waits for the slowest beyond that).
inline constexpr std::size_t kReplayBatchEventsMax = 4'096;
inline constexpr std::size_t kReplayWindowEvents = 32 * kReplayBatchEventsMax;
// Differences reconcile prints per column family (it counts them all).
inline constexpr std::size_t kReconcileDiffsShownMax = 20;
// Keys per write when reconcile --repair rewrites a projection's column family.
inline constexpr std::size_t kRepairBatchKeysMax = 10'000;

// --- Search: the Elasticsearch-compatible projection (docs/search.md) ------------------------
// from + size of one search (Elasticsearch's index.max_result_window).
inline constexpr std::uint32_t kSearchWindowMax = 10'000;
// Values of one terms query (Elasticsearch's index.max_terms_count).
inline constexpr std::size_t kSearchTermsMax = 65'536;
// Leaf and bool clauses in one query (Elasticsearch's indices.query.bool.max_clause_count).
inline constexpr std::size_t kSearchClausesMax = 1'024;
// Nesting of the JSON body of a search (bool clauses nest 3 JSON levels each).
inline constexpr std::size_t kSearchJsonDepthMax = 64;
// Body of a search, count or report definition.
inline constexpr std::size_t kSearchBodyBytesMax = 1024 * 1024;
// Buckets of one search's aggregations, sub-aggregations included (search.max_buckets).
inline constexpr std::size_t kSearchBucketsMax = 65'536;
// Aggregations in one search, sub-aggregations included.
inline constexpr std::size_t kSearchAggregationsMax = 100;
// Tokens are cut to this many bytes (the standard analyzer's max_token_length).
inline constexpr std::size_t kSearchTokenBytesMax = 255;
// Saved reports, and the length of a report's name.
inline constexpr std::size_t kSearchReportsMax = 1'000;
inline constexpr std::size_t kSearchReportNameBytesMax = 255;
// hits.total counts up to this many matches unless the request sets track_total_hits
// (Elasticsearch's default); the rest is reported as relation "gte".
inline constexpr std::uint64_t kSearchTrackTotalHitsDefault = 10'000;

}  // namespace ledger
