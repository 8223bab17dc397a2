; EXAI Tray for Windows: a per-user installer (no administrator rights), built on Debian with
; makensis (Debian's `nsis` package) by packaging/windows/build.sh, which passes:
;   -DVERSION=x.y.z  -DBIN_DIR=<folder with the three .exe and WebView2Loader.dll>
;   -DICON=<icons/icon.ico>  -DPNG=<icons/128x128.png>  -DOUT_FILE=<installer .exe>
;
; What it does (README, "Install"):
;   - copies exai-tray.exe, exai.exe, exai-shim.exe and WebView2Loader.dll (which the tray,
;     built with mingw, loads WebView2 through) to %LOCALAPPDATA%\Programs\EXAI;
;   - a Start-menu shortcut "EXAI Tray" whose System.AppUserModel.ID is the app's id, and the
;     id registered under HKCU\Software\Classes\AppUserModelId\<id> (DisplayName, IconUri), so
;     toasts carry the app's name and icon;
;   - an entry in Apps & features (HKCU ...\Uninstall\EXAI) and Uninstall.exe;
;   - optionally (the "Start at login" box, or /LOGIN when silent) the login item
;     HKCU ...\Run "EXAI Tray" = "<dir>\exai-tray.exe" --hidden: the same value the tray's own
;     "Start at login" switch (tauri-plugin-autostart) writes and removes.
; The uninstaller asks a running tray to quit (exai-tray.exe --quit), then removes the files,
; the shortcut and every registry key and value above. Settings and logs (%APPDATA%\exai,
; %LOCALAPPDATA%\exai) are the user's and stay.
;
; Silent: EXAI-Tray-setup.exe /S [/LOGIN] [/D=<dir>]; Uninstall.exe /S.

Unicode true
; The executables are x64; a 64-bit installer also sees the registry and folders they see.
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
; -DFAST (CI's debug build): packed quickly rather than small.
!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif

!macro Require name
  !ifndef ${name}
    !error "${name} is not set: build with packaging/windows/build.sh"
  !endif
!macroend
!insertmacro Require VERSION
!insertmacro Require BIN_DIR
!insertmacro Require ICON
!insertmacro Require PNG
!insertmacro Require OUT_FILE

!define APP_NAME "EXAI Tray"
; The AppUserModelID: Tauri's identifier (src-tauri/tauri.conf.json); the tray's toasts use it.
!define APP_ID "dev.exai.tray"
!define PUBLISHER "EXAI"
!define SHORTCUT "$SMPROGRAMS\${APP_NAME}.lnk"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\EXAI"
!define AUMID_KEY "Software\Classes\AppUserModelId\${APP_ID}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define STARTUP_APPROVED_KEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
; tauri-plugin-autostart names its value after the product name.
!define RUN_VALUE "${APP_NAME}"

Name "${APP_NAME}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\EXAI"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} setup"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

!include MUI2.nsh
!include LogicLib.nsh
!include FileFunc.nsh
!include Win\COM.nsh
!include Win\Propkey.nsh

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\exai-tray.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP_NAME} now"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; Asks a tray running from $INSTDIR to quit (it stops its hub and tells the shims) and waits,
; so its files can be replaced or removed. Nothing happens when none runs.
!macro StopTray
  ${If} ${FileExists} "$INSTDIR\exai-tray.exe"
    DetailPrint "Asking a running ${APP_NAME} to quit"
    ExecWait '"$INSTDIR\exai-tray.exe" --quit' $0
  ${EndIf}
!macroend

; Sets the System.AppUserModel.ID property of the shortcut at $0 to ${APP_ID}, through the
; shell link's IPropertyStore (NSIS's own Win\COM.nsh helpers; no plugin). $1 gets the HRESULT.
Function SetShortcutAppId
  Push $2
  Push $3
  Push $4
  Push $5
  Push $6
  Push $7
  StrCpy $1 -1
  !insertmacro ComHlpr_CreateInProcInstance ${CLSID_ShellLink} ${IID_IShellLink} r2 ""
  ${If} $2 P<> 0
    ${IUnknown::QueryInterface} $2 '("${IID_IPersistFile}",.r3)'
    ${If} $3 P<> 0
      ${IPersistFile::Load} $3 '(r0,${STGM_READWRITE}).r1'
      ${If} $1 = 0
        ${IUnknown::QueryInterface} $2 '("${IID_IPropertyStore}",.r4)'
        ${If} $4 P<> 0
          System::Call '*${SYSSTRUCT_PROPERTYKEY}(${PKEY_AppUserModel_ID})p.r5'
          System::Call '*(&w64 "${APP_ID}")p.r6'
          System::Call '*${SYSSTRUCT_PROPVARIANT}(${VT_LPWSTR},,p r6)p.r7'
          ${IPropertyStore::SetValue} $4 '(r5,r7).r1'
          ${If} $1 = 0
            ${IPropertyStore::Commit} $4 '().r1'
          ${EndIf}
          System::Free $7
          System::Free $5
          System::Free $6
          ${IUnknown::Release} $4 ""
          ${If} $1 = 0
            ${IPersistFile::Save} $3 '(r0,1).r1'
          ${EndIf}
        ${EndIf}
      ${EndIf}
      ${IUnknown::Release} $3 ""
    ${EndIf}
    ${IUnknown::Release} $2 ""
  ${EndIf}
  Pop $7
  Pop $6
  Pop $5
  Pop $4
  Pop $3
  Pop $2
FunctionEnd

Section "${APP_NAME} (required)" SecApp
  SectionIn RO
  !insertmacro StopTray
  SetOutPath "$INSTDIR"
  File "${BIN_DIR}\exai-tray.exe"
  File "${BIN_DIR}\exai.exe"
  File "${BIN_DIR}\exai-shim.exe"
  File "${BIN_DIR}\WebView2Loader.dll"
  File "/oname=exai.ico" "${ICON}"
  File "/oname=exai.png" "${PNG}"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortCut "${SHORTCUT}" "$INSTDIR\exai-tray.exe" "" "$INSTDIR\exai.ico" 0 SW_SHOWNORMAL "" "One connection to the EXAI daemon, shared by every editor window"
  StrCpy $0 "${SHORTCUT}"
  Call SetShortcutAppId
  ${If} $1 = 0
    DetailPrint "Start-menu shortcut carries the AppUserModelID ${APP_ID}"
  ${Else}
    DetailPrint "Could not set the shortcut's AppUserModelID (HRESULT $1); the registered id still names the toasts"
  ${EndIf}

  WriteRegStr HKCU "${AUMID_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${AUMID_KEY}" "IconUri" "$INSTDIR\exai.png"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\exai.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" $0
SectionEnd

Section /o "Start ${APP_NAME} when I log in" SecLogin
  WriteRegStr HKCU "${RUN_KEY}" "${RUN_VALUE}" '"$INSTDIR\exai-tray.exe" --hidden'
SectionEnd

Function .onInit
  ; /LOGIN selects the login item (for silent installs).
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/LOGIN" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${SecLogin} ${SF_SELECTED}
  ${EndIf}
FunctionEnd

Section "Uninstall"
  !insertmacro StopTray
  Delete "$INSTDIR\exai-tray.exe"
  Delete "$INSTDIR\exai.exe"
  Delete "$INSTDIR\exai-shim.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\exai.ico"
  Delete "$INSTDIR\exai.png"
  Delete "$INSTDIR\Uninstall.exe"
  ; Only if empty: never a folder the user chose that holds other things.
  RMDir "$INSTDIR"
  Delete "${SHORTCUT}"
  DeleteRegKey HKCU "${AUMID_KEY}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  ; The login item, whether this installer or the tray's own switch wrote it.
  DeleteRegValue HKCU "${RUN_KEY}" "${RUN_VALUE}"
  DeleteRegValue HKCU "${STARTUP_APPROVED_KEY}" "${RUN_VALUE}"
SectionEnd
