# Counts the requests of schemathesis NDJSON reports (tests/schemathesis/run), by operation.
import collections, json, sys
requests = collections.Counter()
for path in sys.argv[1:]:
    with open(path) as lines:
        for line in lines:
            scenario = json.loads(line).get("ScenarioFinished") or {}
            recorder = scenario.get("recorder") or {}
            cases = recorder.get("cases") or {}
            for case_id in recorder.get("interactions") or {}:
                case = (cases.get(case_id) or {}).get("value") or {}
                requests[f"{case.get('method', '?')} {case.get('path', '?')}"] += 1
print(f"tests/schemathesis/run: {sum(requests.values())} requests sent, by operation:")
for operation, count in sorted(requests.items(), key=lambda item: item[0].split(" ")[::-1]):
    print(f"  {count:6d}  {operation}")
