//! The daemon's tool catalog as the dashboard lists it: [`HubHandle::tools`].

use crate::HubHandle;
use crate::api::ToolInfo;
use crate::upstream::ToolCatalog;

impl HubHandle {
    /// The daemon's tools (name and description), sorted by name; empty before the first
    /// catalog was fetched.
    pub fn tools(&self) -> Vec<ToolInfo> {
        let catalog = self.ctx.upstream.tools().borrow().clone();
        catalog
            .map(|catalog| tool_list(&catalog))
            .unwrap_or_default()
    }
}

/// Name and description of each tool in a catalog (MCP `Tool` objects), sorted by name;
/// entries without a name are left out.
pub(crate) fn tool_list(catalog: &ToolCatalog) -> Vec<ToolInfo> {
    let mut tools: Vec<ToolInfo> = catalog
        .tools
        .iter()
        .filter_map(|tool| {
            let name = tool.get("name")?.as_str()?.to_owned();
            let description = tool
                .get("description")
                .and_then(|text| text.as_str())
                .unwrap_or_default()
                .trim()
                .to_owned();
            Some(ToolInfo { name, description })
        })
        .collect();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    tools
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_list_has_names_and_descriptions_in_name_order() {
        let catalog = ToolCatalog {
            generation: 1,
            tools: vec![
                json!({"name": "slow", "description": " Sleeps. ", "inputSchema": {}}),
                json!({"name": "echo", "inputSchema": {}}),
                json!({"description": "no name"}),
            ],
        };
        let names: Vec<(String, String)> = tool_list(&catalog)
            .into_iter()
            .map(|tool| (tool.name, tool.description))
            .collect();
        assert_eq!(
            names,
            [
                ("echo".to_owned(), String::new()),
                ("slow".to_owned(), "Sleeps.".to_owned())
            ]
        );
    }
}
