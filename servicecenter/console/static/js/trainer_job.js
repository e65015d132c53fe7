// Progress of a training run: polls the status until the job has finished, then reloads
// the page once so that the comparison and the activation form appear.
const section = document.getElementById("job-progress");

const labels = {
  queued: "wartet",
  running: "Training läuft",
  evaluating: "Bewertung läuft",
  done: "fertig",
  failed: "fehlgeschlagen",
};

async function poll() {
  const id = section.dataset.jobId;
  try {
    const response = await fetch(`/console/trainer/models/jobs/${encodeURIComponent(id)}/status`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    const job = await response.json();
    document.getElementById("job-status").textContent = labels[job.status] || job.status;
    const phase = document.getElementById("job-phase");
    if (phase && job.phase) {
      phase.textContent = job.phase;
    }
    document.getElementById("job-epochs").textContent = `${job.epochs_done} von ${job.epochs_total}`;
    document.getElementById("job-elapsed").textContent = job.elapsed;
    const bar = document.getElementById("job-bar");
    bar.max = job.epochs_total || 1;
    bar.value = job.epochs_done;
    if (job.finished) {
      window.location.reload();
      return;
    }
  } catch (err) {
    // A missed poll is retried; the page still shows the last known state.
  }
  window.setTimeout(poll, 3000);
}

if (section && section.dataset.finished !== "true") {
  window.setTimeout(poll, 2000);
}
