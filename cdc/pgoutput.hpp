// The pgoutput logical replication protocol (version 1), as sent inside
// XLogData by a walsender: one reader function per message type, after
// PostgreSQL's proto.c (logicalrep_read_*). Every read is bounds-checked; an
// unknown or malformed message is an Error (SQLSTATE 08P01) naming the message
// and its LSN, never a guess.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "error.hpp"

namespace crosswalk::cdc {

using Lsn = std::uint64_t;

// "16/B374D848", the form PostgreSQL prints and accepts (pg_lsn).
std::string FormatLsn(Lsn lsn);
// Parses "X/Y" (hex halves); throws Error 22P02 on anything else.
Lsn ParseLsn(std::string_view text);

inline constexpr const char* kProtocolViolation = "08P01";

// One column of a Relation message.
struct RelationColumn {
  bool is_key = false;  // part of the replica identity
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_mod = -1;
};

// A Relation ('R') message: the layout of a published table as of this point
// in the stream. Tuples of that table carry exactly columns.size() values.
struct Relation {
  std::uint32_t oid = 0;
  std::string schema;  // "pg_catalog" is sent as ""; we store what was sent
  std::string name;
  char replica_identity = 'd';  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

// One value of a TupleData: NULL, unchanged TOAST (keep the target's value:
// the server did not send it), text, or binary.
struct TupleValue {
  enum class Kind : char { kNull = 'n', kUnchanged = 'u', kText = 't', kBinary = 'b' };
  Kind kind = Kind::kNull;
  std::string data;  // the value's bytes for kText / kBinary
};
using Tuple = std::vector<TupleValue>;

struct BeginMessage {
  Lsn final_lsn = 0;             // LSN of the commit record
  std::int64_t commit_time = 0;  // microseconds since 2000-01-01 UTC
  std::uint32_t xid = 0;
};
struct CommitMessage {
  std::uint8_t flags = 0;
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;  // the position after the commit record: what we confirm
  std::int64_t commit_time = 0;
};
struct OriginMessage {
  Lsn commit_lsn = 0;
  std::string name;
};
struct TypeMessage {
  std::uint32_t oid = 0;
  std::string schema;
  std::string name;
};
struct InsertMessage {
  std::uint32_t relation_oid = 0;
  Tuple new_tuple;
};
// old_kind is 0 when no old tuple was sent (key unchanged, identity not
// FULL), 'K' for the old replica identity key, 'O' for the whole old row.
struct UpdateMessage {
  std::uint32_t relation_oid = 0;
  char old_kind = 0;
  Tuple old_tuple;
  Tuple new_tuple;
};
struct DeleteMessage {
  std::uint32_t relation_oid = 0;
  char old_kind = 'K';
  Tuple old_tuple;
};
struct TruncateMessage {
  static constexpr std::uint8_t kCascade = 1;
  static constexpr std::uint8_t kRestartIdentity = 2;
  std::uint8_t options = 0;
  std::vector<std::uint32_t> relation_oids;
};
// A logical decoding message (pg_logical_emit_message).
struct LogicalMessage {
  bool transactional = false;
  Lsn lsn = 0;
  std::string prefix;
  std::string content;
};

using Message = std::variant<BeginMessage, CommitMessage, OriginMessage, Relation, TypeMessage, InsertMessage,
                             UpdateMessage, DeleteMessage, TruncateMessage, LogicalMessage>;

// A bounds-checked big-endian reader over one message. Failures throw Error
// 08P01 naming the message and the LSN it came at.
class MessageReader {
 public:
  MessageReader(std::string_view data, Lsn lsn) : data_(data), lsn_(lsn) {}

  std::uint8_t ReadU8();
  std::uint16_t ReadU16();
  std::uint32_t ReadU32();
  std::uint64_t ReadU64();
  std::int32_t ReadI32() { return static_cast<std::int32_t>(ReadU32()); }
  std::int64_t ReadI64() { return static_cast<std::int64_t>(ReadU64()); }
  // A NUL-terminated string.
  std::string ReadCString();
  std::string_view ReadBytes(std::size_t n);
  // Fails unless every byte was consumed: trailing bytes mean we misread.
  void ExpectEnd();

  void set_what(const char* what) { what_ = what; }
  [[noreturn]] void Fail(const std::string& why) const;
  std::size_t offset() const { return pos_; }

 private:
  void Need(std::size_t n, const char* what);
  std::string_view data_;
  std::size_t pos_ = 0;
  Lsn lsn_;
  const char* what_ = "pgoutput message";
};

BeginMessage ReadBeginMessage(MessageReader& in);
CommitMessage ReadCommitMessage(MessageReader& in);
OriginMessage ReadOriginMessage(MessageReader& in);
Relation ReadRelationMessage(MessageReader& in);
TypeMessage ReadTypeMessage(MessageReader& in);
InsertMessage ReadInsertMessage(MessageReader& in);
UpdateMessage ReadUpdateMessage(MessageReader& in);
DeleteMessage ReadDeleteMessage(MessageReader& in);
TruncateMessage ReadTruncateMessage(MessageReader& in);
LogicalMessage ReadLogicalMessage(MessageReader& in);
Tuple ReadTupleData(MessageReader& in);

// Decodes one whole pgoutput message (first byte is its type) received at
// `lsn`. Unknown types, truncations and trailing bytes are errors.
Message DecodeMessage(std::string_view bytes, Lsn lsn);

// The relations seen so far, keyed by OID. A Relation message replaces its
// entry whole (columns may have been added, dropped or retyped).
class RelationCache {
 public:
  void Store(Relation relation);
  // The relation for a change at `lsn`; Error 08P01 when no Relation message
  // came first (the server always sends one before the first change).
  // Shared, so changes already queued keep the layout they were decoded with.
  std::shared_ptr<const Relation> Get(std::uint32_t oid, Lsn lsn) const;
  // Checks that a tuple has one value per column of its relation.
  static void CheckTuple(const Relation& relation, const Tuple& tuple, Lsn lsn, const char* what);
  void Clear() { relations_.clear(); }

 private:
  std::unordered_map<std::uint32_t, std::shared_ptr<const Relation>> relations_;
};

}  // namespace crosswalk::cdc
