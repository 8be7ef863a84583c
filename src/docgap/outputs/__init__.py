"""What docgap writes: report files, the worklist, the HTML report, query drafts, the gate."""
