#!/usr/bin/python3
"""The official Elasticsearch Python client (Debian's python3-elasticsearch 7.17) against a real
ledgerd: product check, search with bool filters, aggregations, count, and search_after paging.

Usage: /usr/bin/python3 es_client_test.py <path to ledgerd>

Starts ledgerd on a temporary data directory and a free 127.0.0.1 port, writes settlements,
refunds, payouts and asset changes through the HTTP command API (urllib), then queries with the
client. Expected results are computed here from the commands sent. Exits 0 on success, 1 on any
failure (also when python3-elasticsearch is missing: this test never skips).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import urllib.request
import warnings

try:
    import elasticsearch
except ImportError as error:
    print("FAIL: the Elasticsearch Python client is missing (%s). Install Debian 12's "
          "python3-elasticsearch (apt-get install python3-elasticsearch; scripts/install-deps.sh "
          "does) and run this test with /usr/bin/python3." % error, file=sys.stderr)
    sys.exit(1)

MERCHANTS = ["merchant:acme", "merchant:blue"]
KINDS = ["host_commission", "platform_share", "technical_service_fee"]


class Ledgerd:
    """ledgerd on a temporary directory; stopped and removed by close()."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="es-client-test-")
        data = os.path.join(self.dir, "data")
        self.process = subprocess.Popen(
            [binary, "--data", data, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        prefix = "ledgerd listening on http://127.0.0.1:"
        if not line.startswith(prefix):
            raise RuntimeError("no listen line from ledgerd: %r; stderr: %s"
                               % (line, self.process.stderr.read()))
        self.port = int(line[len(prefix):].split(" ")[0])
        with open(os.path.join(data, "tokens")) as tokens:
            self.token = next(l.split()[0] for l in tokens if l.strip() and not l.startswith("#"))
        self.url = "http://127.0.0.1:%d" % self.port

    def post(self, path, body):
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201, (path, response.status)
            return json.loads(response.read())

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=30)
                assert code == 0, "ledgerd exited with %d" % code
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise
        self.process.stdout.close()
        self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_data(ledgerd):
    """Writes the data set; returns the expected settlement documents and the last position."""
    docs = []  # {"id", "merchant", "kind", "category", "amount", "month", "type"}
    orders = {}
    position = 0
    for i in range(30):
        merchant = MERCHANTS[i % 2]
        gross = 10000 + 200 * i
        splits = [{"to": "partner:%d" % s, "kind": KINDS[(i + s) % 3], "amount": 100 + 20 * s}
                  for s in range(2 + i % 3)]
        month = "2026-%02d" % (10 + i % 3)
        result = ledgerd.post("/v1/settlements", {
            "order_id": "o-%d" % i, "merchant": merchant, "payer": "external:psp",
            "asset": "EUR", "gross": gross, "splits": splits,
            "occurred_at": "%s-%02dT10:00:00Z" % (month, 1 + i % 28)})
        position = result["position"]
        lines = [(s["kind"], s["amount"]) for s in splits]
        lines.append(("merchant", gross - sum(s["amount"] for s in splits)))
        orders["o-%d" % i] = (merchant, lines)
        for index, (kind, amount) in enumerate(lines):
            docs.append({"id": "%d.%d" % (position, index), "merchant": merchant, "kind": kind,
                         "category": "income" if kind == "merchant" else "other",
                         "amount": amount, "month": month, "type": "OrderSettled"})
    for i in (0, 3, 7):  # Half refunds: every line's share is exactly half (even amounts).
        merchant, lines = orders["o-%d" % i]
        gross = sum(amount for _, amount in lines)
        result = ledgerd.post("/v1/settlements/o-%d/refunds" % i,
                              {"refund_id": "rf", "amount": gross // 2})
        position = result["position"]
        month = result["event"]["recorded_at"][:7]  # Refunds occur when recorded.
        for index, (kind, amount) in enumerate(lines):
            docs.append({"id": "%d.%d" % (position, index), "merchant": merchant, "kind": kind,
                         "category": "other", "amount": -(amount // 2), "month": month,
                         "type": "OrderRefunded"})
    result = ledgerd.post("/v1/payouts", {"payout_id": "p1", "merchant": "merchant:acme",
                                          "asset": "EUR", "amount": 5000, "bank_account": "DE1"})
    position = result["position"]
    docs.append({"id": "%d.0" % position, "merchant": "merchant:acme", "kind": "payout",
                 "category": "expenditure", "amount": -5000,
                 "month": result["event"]["recorded_at"][:7], "type": "MerchantPaidOut"})
    for reason in ("top up from card", "card refund", "salary"):
        position = ledgerd.post("/v1/assets/changes", {
            "account": "user:1", "asset": "EUR", "amount": 100, "source": "card",
            "reason": reason, "ref": "r"})["position"]
    return docs, position


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(ledgerd):
    docs, position = write_data(ledgerd)
    es = elasticsearch.Elasticsearch(ledgerd.url,
                                     headers={"Authorization": "Bearer " + ledgerd.token})
    # The product check must pass: any warning (e.g. "unable to verify") fails the test.
    with warnings.catch_warnings():
        warnings.simplefilter("error", elasticsearch.exceptions.ElasticsearchWarning)
        check(es.ping(), "ping failed")
        info = es.info()
        check(info["version"]["number"] == "7.17.0", info)
        check(info["tagline"] == "You Know, for Search", info)
        wait = {"min_position": str(position)}
        total = es.count(index="settlements", params=wait)["count"]
    check(es.transport._verified_elasticsearch is True, "product check did not pass")
    check(total == len(docs), "count %d, expected %d" % (total, len(docs)))

    # Bool filters.
    query = {"bool": {"filter": [{"term": {"merchant": "merchant:acme"}},
                                 {"terms": {"category": ["income", "expenditure"]}}],
                      "must_not": [{"term": {"kind": "payout"}}]}}
    expected = sorted(d["id"] for d in docs if d["merchant"] == "merchant:acme"
                      and d["category"] in ("income", "expenditure") and d["kind"] != "payout")
    result = es.search(index="settlements", body={"query": query, "size": 1000})
    ids = sorted(hit["_id"] for hit in result["hits"]["hits"])
    check(ids == expected, "bool filter hits %s, expected %s" % (ids, expected))
    check(result["hits"]["total"] == {"value": len(expected), "relation": "eq"}, result["hits"])
    check(es.count(index="settlements", body={"query": query})["count"] == len(expected), "count")
    ranged = es.search(index="settlements", body={
        "query": {"range": {"occurred_at": {"gte": "2026-11-01", "lte": "2026-11-30"}}},
        "size": 0, "track_total_hits": True})
    november = [d for d in docs if d["month"] == "2026-11"]
    check(ranged["hits"]["total"]["value"] == len(november), ranged["hits"])

    # Aggregations: terms with a sum sub-aggregation, a monthly date_histogram.
    result = es.search(index="settlements", body={
        "size": 0, "query": {"term": {"type": "OrderSettled"}},
        "aggs": {"merchants": {"terms": {"field": "merchant"},
                               "aggs": {"sales": {"sum": {"field": "amount"}}}},
                 "months": {"date_histogram": {"field": "occurred_at",
                                               "calendar_interval": "month"}}}})
    settled = [d for d in docs if d["type"] == "OrderSettled"]
    buckets = {b["key"]: (b["doc_count"], b["sales"]["value"])
               for b in result["aggregations"]["merchants"]["buckets"]}
    for merchant in MERCHANTS:
        mine = [d for d in settled if d["merchant"] == merchant]
        check(buckets[merchant] == (len(mine), sum(d["amount"] for d in mine)),
              "merchant %s: %s" % (merchant, buckets[merchant]))
    months = [(b["key_as_string"][:7], b["doc_count"])
              for b in result["aggregations"]["months"]["buckets"]]
    expected_months = [(m, len([d for d in settled if d["month"] == m]))
                       for m in ("2026-10", "2026-11", "2026-12")]
    check(months == expected_months, "months %s, expected %s" % (months, expected_months))

    # search_after until exhausted: every document exactly once.
    seen = []
    body = {"size": 7, "sort": [{"occurred_at": "asc"}, {"record_id": "asc"}],
            "query": {"match_all": {}}}
    while True:
        page = es.search(index="settlements", body=body)["hits"]["hits"]
        seen.extend(hit["_id"] for hit in page)
        if len(page) < 7:
            break
        body["search_after"] = page[-1]["sort"]
    check(len(seen) == len(set(seen)), "a document was returned twice")
    check(sorted(seen) == sorted(d["id"] for d in docs), "search_after missed documents")

    # Full-text match on the entries index, and an unsupported clause is an error, not ignored.
    memo = es.search(index="entries", body={"query": {"match": {"memo": "card"}}})
    check(sorted(h["_source"]["memo"] for h in memo["hits"]["hits"]) ==
          ["card refund", "top up from card"], memo["hits"])
    try:
        es.search(index="settlements", body={"query": {"match": {"memo": {
            "query": "x", "fuzziness": "AUTO"}}}})
        check(False, "fuzziness was accepted")
    except elasticsearch.exceptions.RequestError as error:
        check(error.status_code == 400 and error.error == "parsing_exception", error.info)
        check("[fuzziness]" in json.dumps(error.info), error.info)
    try:
        es.search(index="orders", body={})
        check(False, "an unknown index was searched")
    except elasticsearch.exceptions.NotFoundError as error:
        check(error.error == "index_not_found_exception", error.info)


def main():
    # The 7.17 client deprecates body= in favour of keyword parameters, some of which it sends
    # in the URL; the request body is what this test exercises.
    warnings.filterwarnings("ignore", message="The 'body' parameter is deprecated",
                            category=DeprecationWarning)
    if len(sys.argv) != 2:
        print("usage: es_client_test.py <ledgerd>", file=sys.stderr)
        return 2
    print("elasticsearch client %s" % elasticsearch.__versionstr__)
    ledgerd = Ledgerd(sys.argv[1])
    try:
        run(ledgerd)
    except Exception:  # Report any failure as the test's.
        traceback.print_exc()
        ledgerd.close()
        print("FAIL", file=sys.stderr)
        return 1
    ledgerd.close()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
