#include "sync_config.hpp"

#include "daemon.hpp"

namespace crosswalk::test {

std::string SyncConfig(const Cluster& source, const std::vector<TestPeer>& peers, const std::string& extra) {
  std::string json = R"({ "source": { "dsn": ")" + source.Dsn("learnhub") +
                     R"(", "platform": "learnhub", "publication": "crosswalk", "create_publication": true },
  "peers": [)";
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const TestPeer& p = peers[i];
    json += (i ? ",\n    " : "\n    ") + std::string(R"({ "name": ")") + p.db + R"(", "dsn": ")" + p.cluster.Dsn(p.db) +
            R"(", "platform": ")" + p.db + R"(", "tables": )" + p.tables + " }";
  }
  json += " ]";
  if (!extra.empty()) json += ",\n  " + extra;
  return json + " }";
}

std::string WriteSyncConfig(const std::string& path, const Cluster& source, const std::vector<TestPeer>& peers,
                            const std::string& extra) {
  return WriteFile(path, SyncConfig(source, peers, extra));
}

}  // namespace crosswalk::test
