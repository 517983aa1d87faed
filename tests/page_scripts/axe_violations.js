// axe-core's run on the page as it is now (tests/accessibility.py injects axe first): the WCAG
// rules by their tags plus the rules named in `also`, or only the rules in `only`; outside the
// elements `exclude` names. Each violated rule with a few of its nodes, small enough to send
// back and print.
async ({ tags, also, only, exclude, examples }) => {
  const runOnly = only ? { type: "rule", values: only } : { type: "tag", values: tags };
  const rules = Object.fromEntries(also.map((rule) => [rule, { enabled: true }]));
  const context = { include: [document], exclude: exclude.map((selector) => [selector]) };
  const results = await axe.run(context, { runOnly, rules, resultTypes: ["violations"] });
  return results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact,
    help: violation.help,
    count: violation.nodes.length,
    examples: violation.nodes.slice(0, examples).map((node) => ({
      target: node.target.flat().join(" >> "),
      summary: (node.failureSummary || "").split("\n").slice(1).join(" ").trim(),
    })),
  }));
}
