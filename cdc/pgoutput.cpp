#include "pgoutput.hpp"

#include <cstdio>
#include <cstring>

namespace crosswalk::cdc {

std::string FormatLsn(Lsn lsn) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn));
  return buf;
}

Lsn ParseLsn(std::string_view text) {
  auto bad = [&] { return Error(sqlstate::kInvalidTextRepresentation, "invalid LSN \"" + std::string(text) + "\""); };
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 8 || text.size() - slash - 1 == 0 ||
      text.size() - slash - 1 > 8) {
    throw bad();
  }
  auto hex = [&](std::string_view part) {
    std::uint64_t v = 0;
    for (char c : part) {
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) throw bad();
      v = v * 16 + static_cast<std::uint64_t>(d);
    }
    return v;
  };
  return (hex(text.substr(0, slash)) << 32) | hex(text.substr(slash + 1));
}

// ---------------------------------------------------------------------------
// MessageReader
// ---------------------------------------------------------------------------

void MessageReader::Fail(const std::string& why) const {
  throw Error(kProtocolViolation, "malformed " + std::string(what_) + " at LSN " + FormatLsn(lsn_) + ": " + why);
}

void MessageReader::Need(std::size_t n, const char* what) {
  if (data_.size() - pos_ < n) {
    Fail("truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
         std::to_string(pos_) + ", " + std::to_string(data_.size() - pos_) + " left");
  }
}

std::uint8_t MessageReader::ReadU8() {
  Need(1, "a byte");
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::uint16_t MessageReader::ReadU16() {
  Need(2, "an int16");
  std::uint16_t v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(data_[pos_]) << 8) |
                                               static_cast<std::uint8_t>(data_[pos_ + 1]));
  pos_ += 2;
  return v;
}

std::uint32_t MessageReader::ReadU32() {
  Need(4, "an int32");
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  return v;
}

std::uint64_t MessageReader::ReadU64() {
  Need(8, "an int64");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_ + i]);
  pos_ += 8;
  return v;
}

std::string MessageReader::ReadCString() {
  const void* nul = std::memchr(data_.data() + pos_, '\0', data_.size() - pos_);
  if (nul == nullptr) Fail("truncated: unterminated string at offset " + std::to_string(pos_));
  std::size_t len = static_cast<const char*>(nul) - (data_.data() + pos_);
  std::string s(data_.substr(pos_, len));
  pos_ += len + 1;
  return s;
}

std::string_view MessageReader::ReadBytes(std::size_t n) {
  Need(n, "a value");
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

void MessageReader::ExpectEnd() {
  if (pos_ != data_.size()) {
    Fail(std::to_string(data_.size() - pos_) + " unexpected trailing bytes at offset " + std::to_string(pos_));
  }
}

// ---------------------------------------------------------------------------
// One reader per message. Each reads the body after the type byte.
// ---------------------------------------------------------------------------

BeginMessage ReadBeginMessage(MessageReader& in) {
  BeginMessage m;
  m.final_lsn = in.ReadU64();
  m.commit_time = in.ReadI64();
  m.xid = in.ReadU32();
  return m;
}

CommitMessage ReadCommitMessage(MessageReader& in) {
  CommitMessage m;
  m.flags = in.ReadU8();
  if (m.flags != 0) in.Fail("unknown commit flags " + std::to_string(m.flags));
  m.commit_lsn = in.ReadU64();
  m.end_lsn = in.ReadU64();
  m.commit_time = in.ReadI64();
  if (m.end_lsn < m.commit_lsn) in.Fail("commit end LSN before its commit LSN");
  return m;
}

OriginMessage ReadOriginMessage(MessageReader& in) {
  OriginMessage m;
  m.commit_lsn = in.ReadU64();
  m.name = in.ReadCString();
  return m;
}

Relation ReadRelationMessage(MessageReader& in) {
  Relation r;
  r.oid = in.ReadU32();
  if (r.oid == 0) in.Fail("relation OID 0");
  r.schema = in.ReadCString();
  r.name = in.ReadCString();
  if (r.name.empty()) in.Fail("empty relation name");
  r.replica_identity = static_cast<char>(in.ReadU8());
  if (std::strchr("dnfi", r.replica_identity) == nullptr || r.replica_identity == '\0') {
    in.Fail("unknown replica identity '" + std::string(1, r.replica_identity) + "'");
  }
  std::uint16_t ncols = in.ReadU16();
  r.columns.reserve(ncols);
  for (std::uint16_t i = 0; i < ncols; ++i) {
    RelationColumn c;
    std::uint8_t flags = in.ReadU8();
    if (flags > 1) in.Fail("unknown column flags " + std::to_string(flags));
    c.is_key = flags == 1;
    c.name = in.ReadCString();
    if (c.name.empty()) in.Fail("empty column name");
    c.type_oid = in.ReadU32();
    c.type_mod = in.ReadI32();
    r.columns.push_back(std::move(c));
  }
  return r;
}

TypeMessage ReadTypeMessage(MessageReader& in) {
  TypeMessage m;
  m.oid = in.ReadU32();
  m.schema = in.ReadCString();
  m.name = in.ReadCString();
  return m;
}

Tuple ReadTupleData(MessageReader& in) {
  std::uint16_t ncols = in.ReadU16();
  Tuple t;
  t.reserve(ncols);
  for (std::uint16_t i = 0; i < ncols; ++i) {
    TupleValue v;
    char kind = static_cast<char>(in.ReadU8());
    switch (kind) {
      case 'n':
        v.kind = TupleValue::Kind::kNull;
        break;
      case 'u':
        v.kind = TupleValue::Kind::kUnchanged;
        break;
      case 't':
      case 'b': {
        v.kind = kind == 't' ? TupleValue::Kind::kText : TupleValue::Kind::kBinary;
        std::int32_t len = in.ReadI32();
        if (len < 0) in.Fail("negative value length " + std::to_string(len) + " in column " + std::to_string(i + 1));
        v.data = std::string(in.ReadBytes(static_cast<std::size_t>(len)));
        break;
      }
      default:
        in.Fail("unknown tuple value kind 0x" +
                [&] {
                  char b[3];
                  std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(kind));
                  return std::string(b);
                }() +
                " in column " + std::to_string(i + 1));
    }
    t.push_back(std::move(v));
  }
  return t;
}

namespace {

// The 'N' that introduces a new tuple.
void ExpectNewTupleMarker(MessageReader& in, char got) {
  if (got != 'N') in.Fail("expected 'N' (new tuple), got 0x" + std::to_string(static_cast<unsigned char>(got)));
}

}  // namespace

InsertMessage ReadInsertMessage(MessageReader& in) {
  InsertMessage m;
  m.relation_oid = in.ReadU32();
  ExpectNewTupleMarker(in, static_cast<char>(in.ReadU8()));
  m.new_tuple = ReadTupleData(in);
  return m;
}

UpdateMessage ReadUpdateMessage(MessageReader& in) {
  UpdateMessage m;
  m.relation_oid = in.ReadU32();
  char marker = static_cast<char>(in.ReadU8());
  if (marker == 'K' || marker == 'O') {
    m.old_kind = marker;
    m.old_tuple = ReadTupleData(in);
    marker = static_cast<char>(in.ReadU8());
  }
  ExpectNewTupleMarker(in, marker);
  m.new_tuple = ReadTupleData(in);
  return m;
}

DeleteMessage ReadDeleteMessage(MessageReader& in) {
  DeleteMessage m;
  m.relation_oid = in.ReadU32();
  char marker = static_cast<char>(in.ReadU8());
  if (marker != 'K' && marker != 'O') in.Fail("expected 'K' or 'O' (old tuple) in a delete");
  m.old_kind = marker;
  m.old_tuple = ReadTupleData(in);
  return m;
}

TruncateMessage ReadTruncateMessage(MessageReader& in) {
  TruncateMessage m;
  std::uint32_t n = in.ReadU32();
  m.options = in.ReadU8();
  if ((m.options & ~(TruncateMessage::kCascade | TruncateMessage::kRestartIdentity)) != 0) {
    in.Fail("unknown truncate options " + std::to_string(m.options));
  }
  // Each OID is 4 bytes: a count the message cannot hold is malformed, and
  // checking first keeps a hostile count from reserving gigabytes.
  if (n == 0) in.Fail("truncate of no relation");
  m.relation_oids.reserve(n < 1024 ? n : 1024);
  for (std::uint32_t i = 0; i < n; ++i) m.relation_oids.push_back(in.ReadU32());
  return m;
}

LogicalMessage ReadLogicalMessage(MessageReader& in) {
  LogicalMessage m;
  std::uint8_t flags = in.ReadU8();
  if (flags > 1) in.Fail("unknown message flags " + std::to_string(flags));
  m.transactional = flags == 1;
  m.lsn = in.ReadU64();
  m.prefix = in.ReadCString();
  std::int32_t len = in.ReadI32();
  if (len < 0) in.Fail("negative message length");
  m.content = std::string(in.ReadBytes(static_cast<std::size_t>(len)));
  return m;
}

Message DecodeMessage(std::string_view bytes, Lsn lsn) {
  MessageReader in(bytes, lsn);
  if (bytes.empty()) in.Fail("empty message");
  char type = static_cast<char>(in.ReadU8());
  Message m;
  switch (type) {
    case 'B':
      in.set_what("pgoutput Begin message");
      m = ReadBeginMessage(in);
      break;
    case 'C':
      in.set_what("pgoutput Commit message");
      m = ReadCommitMessage(in);
      break;
    case 'O':
      in.set_what("pgoutput Origin message");
      m = ReadOriginMessage(in);
      break;
    case 'R':
      in.set_what("pgoutput Relation message");
      m = ReadRelationMessage(in);
      break;
    case 'Y':
      in.set_what("pgoutput Type message");
      m = ReadTypeMessage(in);
      break;
    case 'I':
      in.set_what("pgoutput Insert message");
      m = ReadInsertMessage(in);
      break;
    case 'U':
      in.set_what("pgoutput Update message");
      m = ReadUpdateMessage(in);
      break;
    case 'D':
      in.set_what("pgoutput Delete message");
      m = ReadDeleteMessage(in);
      break;
    case 'T':
      in.set_what("pgoutput Truncate message");
      m = ReadTruncateMessage(in);
      break;
    case 'M':
      in.set_what("pgoutput Message message");
      m = ReadLogicalMessage(in);
      break;
    default: {
      char b[8];
      std::snprintf(b, sizeof b, "0x%02x", static_cast<unsigned char>(type));
      throw Error(kProtocolViolation, "unknown pgoutput message type " + std::string(b) + " at LSN " + FormatLsn(lsn),
                  "crosswalk-sync speaks pgoutput protocol version 1.");
    }
  }
  in.ExpectEnd();
  return m;
}

// ---------------------------------------------------------------------------
// RelationCache
// ---------------------------------------------------------------------------

void RelationCache::Store(Relation relation) {
  std::uint32_t oid = relation.oid;
  relations_.insert_or_assign(oid, std::make_shared<const Relation>(std::move(relation)));
}

std::shared_ptr<const Relation> RelationCache::Get(std::uint32_t oid, Lsn lsn) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    throw Error(kProtocolViolation, "change for relation OID " + std::to_string(oid) + " at LSN " + FormatLsn(lsn) +
                                        " before any Relation message for it");
  }
  return it->second;
}

void RelationCache::CheckTuple(const Relation& relation, const Tuple& tuple, Lsn lsn, const char* what) {
  if (tuple.size() != relation.columns.size()) {
    throw Error(kProtocolViolation, std::string(what) + " for " + relation.schema + "." + relation.name + " at LSN " +
                                        FormatLsn(lsn) + " has " + std::to_string(tuple.size()) +
                                        " values but the relation has " + std::to_string(relation.columns.size()) +
                                        " columns");
  }
}

}  // namespace crosswalk::cdc
