// The operator's gates: the concert's proof-of-work bits and its presale codes.
// It shares the console of ops.js: the concert selector and the admin key that
// ops.js keeps in sessionStorage.
import { call, say } from "/web/api.js";

const $ = (id) => document.getElementById(id);
const msg = (text, kind) => say($("msg"), text, kind);
const admin = (method, path, body) =>
  call(method, path, { adminKey: sessionStorage.getItem("concertd.adminKey") || "", body });
const concert = () => $("concert").value;
let csvURL = "";

async function showBits() {
  if (!concert()) return;
  try {
    // An empty PATCH changes nothing and answers the settings in force.
    const s = await admin("PATCH", `/api/admin/concerts/${concert()}/queue`, {});
    $("powBits").value = s.proofOfWorkBits ?? 0;
  } catch { /* ops.js reports the console's errors */ }
}

async function applyBits() {
  try {
    const s = await admin("PATCH", `/api/admin/concerts/${concert()}/queue`, { proofOfWorkBits: Number($("powBits").value) });
    $("powBits").value = s.proofOfWorkBits;
    msg(s.proofOfWorkBits ? `New entries now solve ${s.proofOfWorkBits}-bit challenges.` : "Proof of work is off.", "ok");
  } catch (e) { msg(e.message, "error"); }
}

// csv writes one code per line under a header; codes hold only A-Z, 2-9 and '-',
// so nothing needs quoting.
function csv(concertId, until, codes) {
  return "concertId,code,until\n" + codes.map((c) => `${concertId},${c},${until}`).join("\n") + "\n";
}

async function makeCodes() {
  const local = $("presaleUntil").value;
  if (!local) return msg("Choose when the presale ends.", "error");
  const until = new Date(local).toISOString().replace(/\.\d{3}Z$/, "Z");
  try {
    const { codes } = await admin("POST", `/api/admin/concerts/${concert()}/presale`, {
      count: Number($("presaleCount").value), until,
    });
    if (csvURL) URL.revokeObjectURL(csvURL);
    csvURL = URL.createObjectURL(new Blob([csv(concert(), until, codes)], { type: "text/csv" }));
    $("presaleCsv").href = csvURL;
    $("presaleCsv").download = `presale-concert-${concert()}.csv`;
    $("presaleN").textContent = codes.length.toLocaleString("en-US");
    $("presaleResult").hidden = false;
    msg(`${codes.length} codes made; the presale ends ${new Date(until).toLocaleString()}.`, "ok");
  } catch (e) { msg(e.message, "error"); }
}

$("powBtn").onclick = applyBits;
$("presaleBtn").onclick = makeCodes;
$("concert").addEventListener("change", () => { $("presaleResult").hidden = true; showBits(); });
// ops.js fills the concert list after the key is accepted; follow it.
new MutationObserver(showBits).observe($("concert"), { childList: true });
