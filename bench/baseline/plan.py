#!/usr/bin/env python3
"""The migration plan as a user would otherwise write it: the csv module and dicts.

The baseline of the benchmarks (`cargo run -p bench --release --bin bench`). It does the same
job as `onboard ingest users` on the benchmark's synthetic export, simplified the way a quick
script is: fixed header names, one e-mail regex, no encoding or delimiter sniffing, no issue
report beyond a count, every existing user loaded from the SQLite table in one query.

usage: plan.py USERS_CSV CONFIG_DIR BUILDINGS_CSV TABLE_SQLITE OUT_PLAN_CSV
prints: rows=N users=N sha256=HEX maxrss_kb=N
"""
import csv
import hashlib
import json
import re
import resource
import sqlite3
import sys

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SPLIT = re.compile(r"[;|,\n]")
ACTIVE = {"active", "enabled", "yes", "y", "1", "true", "on", "current"}
INACTIVE = {"inactive", "disabled", "no", "n", "0", "false", "off", "deactivated", "suspended", "terminated"}
HEADERS = ["Row(s)", "Email", "First Name", "Last Name", "Action", "Reason", "Platform Roles", "Current Roles",
           "Roles To Add", "Buildings", "Buildings To Add", "Building UUIDs", "Department", "Employee ID"]


def key(text):
    return "".join(c for c in text.lower() if c.isalnum())


def parts(cell):
    return [p.strip() for p in SPLIT.split(cell) if p.strip()]


def main(users_csv, config_dir, buildings_csv, db_path, out_path):
    matrix = {}
    with open(f"{config_dir}/role-matrix.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            matrix[key(row["Old Role"])] = parts(row["Platform Roles"])
    buildings, names = {}, {}
    with open(buildings_csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            uuid = row["Building UUID"].strip().lower()
            names[uuid] = row["Building Name"].strip()
            buildings[uuid] = uuid
            for alias in [row["Building Name"]] + parts(row.get("Aliases", "")):
                buildings[key(alias)] = uuid
    existing = {}
    with sqlite3.connect(db_path) as db:
        for email, roles, blds in db.execute("SELECT email, roles, buildings FROM users"):
            existing[email] = (set(json.loads(roles)), set(json.loads(blds)))

    users, rows, rejected = {}, 0, 0
    with open(users_csv, newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.DictReader(f), start=2):
            rows += 1
            email = row["E-mail Address"].strip().lower()
            if not EMAIL.match(email):
                rejected += 1
                continue
            first, last = row["First Name"].strip(), row["Last Name"].strip()
            roles, blds = parts(row["Role(s)"]), parts(row["Building assignments"])
            text = row["Status"].strip().lower()
            status = "active" if text in ACTIVE else "inactive" if text in INACTIVE else None
            # The row's own problems first, in the order the checks run.
            problems = (["missing name"] if not first and not last else []) + (["unknown status"] if status is None else [])
            user = users.get(email)
            if user is None:
                users[email] = {"rows": [number], "first": first, "last": last, "roles": roles, "buildings": blds,
                                "status": status, "hold": problems, "extras": [row["Department"], row["Employee ID"]]}
                continue
            user["rows"].append(number)
            user["hold"] += problems
            user["roles"] += [r for r in roles if r.lower() not in {x.lower() for x in user["roles"]}]
            user["buildings"] += [b for b in blds if b.lower() not in {x.lower() for x in user["buildings"]}]
            differ = lambda a, b: a and b and a.lower() != b.lower()
            conflict = differ(user["first"], first) or differ(user["last"], last)
            user["first"], user["last"] = user["first"] or first, user["last"] or last
            if user["status"] and status and user["status"] != status:
                conflict = True
            elif user["status"] is None:
                user["status"] = status
            if conflict:
                user["hold"].append("conflicting duplicate")

    with open(out_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADERS)
        for email, user in users.items():
            hold = list(dict.fromkeys(user["hold"]))
            platform, resolved = [], []
            inactive = user["status"] == "inactive"
            if not inactive:
                for role in user["roles"]:
                    mapped = matrix.get(key(role))
                    if mapped is None:
                        hold.append(f"unmapped role “{role}”")
                    else:
                        platform += [r for r in mapped if r not in platform]
                for ref in user["buildings"]:
                    uuid = buildings.get(ref.lower()) or buildings.get(key(ref))
                    if uuid is None:
                        hold.append(f"unknown building “{ref}”")
                    elif uuid not in resolved:
                        resolved.append(uuid)
            current = existing.get(email)
            added_roles = [r for r in platform if current is None or r not in current[0]]
            added_buildings = [b for b in resolved if current is None or b not in current[1]]
            if inactive:
                action, reason = "skip_inactive", "inactive in the old system"
            elif hold:
                action, reason = "hold", "; ".join(hold)
            elif current is None:
                action, reason = "create_and_invite", ""
            elif not added_roles and not added_buildings:
                action, reason = "no_change", "already has every planned role and building"
            else:
                action, reason = "add_roles", "existing user keeps current access and gains the missing roles or buildings"
            safe = ["'" + v if v[:1] in ("=", "+", "-", "@") else v for v in user["extras"]]
            writer.writerow(["; ".join(map(str, user["rows"])), email, user["first"], user["last"], action, reason,
                             "; ".join(platform), "; ".join(sorted(current[0])) if current else "", "; ".join(added_roles),
                             "; ".join(names[b] for b in resolved), "; ".join(names[b] for b in added_buildings),
                             "; ".join(resolved)] + safe)

    with open(out_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"rows={rows} users={len(users)} rejected={rejected} sha256={sha} maxrss_kb={peak}")


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
