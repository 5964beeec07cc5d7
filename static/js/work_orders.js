// Work-order pages: the new-work-order form offers the failure modes of the chosen machine's type
// only, and on a phone (one column in view) the board opens on the column the server chose.
(function () {
  function showModesOf(machineSelect, modeSelect, types) {
    const typeName = types[machineSelect.value];
    modeSelect.querySelectorAll("optgroup").forEach((group) => {
      const fits = !typeName || group.label === typeName;
      group.hidden = !fits;
      group.disabled = !fits;
    });
    const chosen = modeSelect.selectedOptions[0];
    if (chosen && chosen.parentElement.disabled) modeSelect.value = "";
  }

  function newWorkOrderForm() {
    const data = document.getElementById("machine-types");
    const machine = document.getElementById("id_machine");
    const mode = document.getElementById("id_failure_mode");
    if (!data || !machine || !mode) return;
    const types = JSON.parse(data.textContent);
    machine.addEventListener("change", () => showModesOf(machine, mode, types));
    showModesOf(machine, mode, types);
  }

  function boardStart() {
    const board = document.querySelector(".work-order-board[data-start]");
    if (!board || board.scrollWidth <= board.clientWidth) return; // every column in view already
    const column = board.querySelector(`[data-status="${board.dataset.start}"]`);
    if (column) board.scrollLeft += column.getBoundingClientRect().left - board.getBoundingClientRect().left;
  }

  function start() {
    newWorkOrderForm();
    boardStart();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
