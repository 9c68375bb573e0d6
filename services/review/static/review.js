// Keyboard for the rubric form: an expert scoring forty works in an evening keeps both hands on the keys.
document.addEventListener("keydown", function (event) {
  var form = document.getElementById("score-form");
  if (!form || !(event.ctrlKey || event.metaKey)) return;
  var action = event.key === "Enter" ? "submit" : (event.key === "s" || event.key === "S") ? "draft" : null;
  if (!action) return;
  event.preventDefault();
  var button = form.querySelector("button[value=" + action + "]");
  if (button) button.click();
});
